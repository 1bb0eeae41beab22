#include "common/resilience/bulkhead.h"

#include <algorithm>

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

void Bulkhead::EnterAsync(Clock& clock, std::function<void(bool)> granted) {
  auto waiter = std::make_shared<Waiter>();
  bool room = false, wait = false;
  {
    absl::MutexLock lock(&mu_);
    room = in_use_ < config_.max_concurrent;
    wait = !room && config_.max_wait > absl::ZeroDuration();
    if (room) {
      ++in_use_;
    } else if (wait) {
      waiter->granted = std::move(granted);
      waiters_.push_back(waiter);
    } else {
      ++rejected_;
    }
  }
  if (!wait) {
    granted(room);
    return;
  }
  clock.RunAfter(config_.max_wait, [this, waiter] {
    // Served already: the bulkhead is not touched (it may be gone).
    if (waiter->settled.exchange(true)) return;
    {
      absl::MutexLock lock(&mu_);
      ++rejected_;
      auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
      if (it != waiters_.end()) waiters_.erase(it);
    }
    waiter->granted(false);
  });
}

void Bulkhead::Leave() {
  std::shared_ptr<Waiter> next;
  {
    absl::MutexLock lock(&mu_);
    while (!waiters_.empty() && next == nullptr) {
      next = std::move(waiters_.front());
      waiters_.pop_front();
      // One that timed out meanwhile is its timer's to answer.
      if (next->settled.exchange(true)) next = nullptr;
    }
    if (next == nullptr) {
      if (in_use_ > 0) --in_use_;
      return;
    }
    // The slot passes to the waiter as it is.
  }
  next->granted(true);
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
