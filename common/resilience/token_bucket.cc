#include "common/resilience/token_bucket.h"

#include <algorithm>

namespace sagaworks::resilience {

absl::Status TokenBucketConfig::Validate() const {
  if (max_tokens < 1) {
    return absl::InvalidArgumentError("token bucket max_tokens must be >= 1");
  }
  if (refill.amount < 1 || refill.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "token bucket refill needs a positive amount and interval");
  }
  return absl::OkStatus();
}

TokenBucket::TokenBucket(TokenBucketConfig config, Clock& clock)
    : config_(config),
      clock_(clock),
      tokens_(config.max_tokens),
      last_refill_(clock.Now()) {}

void TokenBucket::Refill(absl::Time now) {
  if (now <= last_refill_) return;
  // Whole intervals only; the remainder carries over to the next refill, so
  // frequent calls do not lose fractions of a token.
  const int64_t intervals = (now - last_refill_) / config_.refill.interval;
  if (intervals <= 0) return;
  const int64_t room = config_.max_tokens - tokens_;
  const int64_t gained =
      intervals > room / config_.refill.amount + 1
          ? room
          : std::min(room, intervals * config_.refill.amount);
  tokens_ += gained;
  last_refill_ = tokens_ == config_.max_tokens
                     ? now
                     : last_refill_ + config_.refill.interval * intervals;
}

bool TokenBucket::Obtain() {
  absl::MutexLock lock(&mu_);
  Refill(clock_.Now());
  if (tokens_ <= 0) return false;
  --tokens_;
  return true;
}

absl::Duration TokenBucket::TimeToNextToken() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  Refill(now);
  if (tokens_ > 0) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(),
                  last_refill_ + config_.refill.interval - now);
}

int64_t TokenBucket::tokens() {
  absl::MutexLock lock(&mu_);
  Refill(clock_.Now());
  return tokens_;
}

}  // namespace sagaworks::resilience
