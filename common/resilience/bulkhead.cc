#include "common/resilience/bulkhead.h"

namespace sagaworks::resilience {

absl::Status BulkheadConfig::Validate() const {
  if (max_concurrent < 1) {
    return absl::InvalidArgumentError("bulkhead max_concurrent must be >= 1");
  }
  if (max_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("bulkhead max_wait must not be negative");
  }
  return absl::OkStatus();
}

bool Bulkhead::TryEnter() {
  absl::MutexLock lock(&mu_);
  auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_use_ < config_.max_concurrent;
  };
  const bool got =
      has_room() ||
      (config_.max_wait > absl::ZeroDuration() &&
       mu_.AwaitWithTimeout(absl::Condition(&has_room), config_.max_wait));
  if (!got) {
    ++rejected_;
    return false;
  }
  ++in_use_;
  return true;
}

void Bulkhead::Leave() {
  absl::MutexLock lock(&mu_);
  if (in_use_ > 0) --in_use_;
}

int Bulkhead::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

int64_t Bulkhead::rejected() const {
  absl::MutexLock lock(&mu_);
  return rejected_;
}

}  // namespace sagaworks::resilience
