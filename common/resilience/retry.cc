#include "common/resilience/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sagaworks::resilience {

absl::Status RetryConfig::Validate() const {
  if (max_attempts < 1 || max_attempts > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry max_attempts ", max_attempts, " is outside [1, 100]"));
  }
  if (initial_backoff <= absl::ZeroDuration() ||
      max_backoff < initial_backoff) {
    return absl::InvalidArgumentError(
        "retry initial_backoff must be positive and at most max_backoff");
  }
  if (!(multiplier >= 1.0)) {
    return absl::InvalidArgumentError("retry multiplier must be >= 1");
  }
  return absl::OkStatus();
}

bool IsRetryable(absl::StatusCode code, bool idempotent) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
      return true;
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
      return idempotent;
    default:
      return false;
  }
}

Pushback ParsePushback(std::optional<absl::string_view> value) {
  if (!value.has_value()) return {};
  int64_t ms = 0;
  if (!absl::SimpleAtoi(*value, &ms) || ms < 0) {
    return {Pushback::Kind::kStop, absl::ZeroDuration()};
  }
  return {Pushback::Kind::kDelay, absl::Milliseconds(ms)};
}

absl::Duration RetryBackoff::Next(double uniform01) {
  uniform01 = std::clamp(uniform01, 0.0, 1.0);
  ++retries_;
  absl::Duration delay;
  if (config_.jitter == Jitter::kFull) {
    const double ceiling =
        std::min(absl::ToDoubleSeconds(config_.initial_backoff) *
                     std::pow(config_.multiplier, retries_ - 1),
                 absl::ToDoubleSeconds(config_.max_backoff));
    delay = absl::Seconds(ceiling * uniform01);
  } else {
    const absl::Duration lo = config_.initial_backoff;
    const absl::Duration hi =
        std::min(config_.max_backoff,
                 std::max(lo, (retries_ == 1 ? lo : previous_) * 3));
    delay = lo + (hi - lo) * uniform01;
  }
  previous_ = delay;
  return delay;
}

absl::Status RetryBudgetConfig::Validate() const {
  if (!(ratio >= 0.0) || !(min_retries_per_second >= 0.0)) {
    return absl::InvalidArgumentError(
        "retry budget ratio and min_retries_per_second must be >= 0");
  }
  if (window < absl::Seconds(1) || window > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        "retry budget window must be between 1 s and 1 h");
  }
  return absl::OkStatus();
}

RetryBudget::RetryBudget(RetryBudgetConfig config, Clock& clock)
    : config_(config),
      clock_(clock),
      seconds_(std::max<int64_t>(1, absl::ToInt64Seconds(config.window))),
      buckets_(static_cast<size_t>(seconds_)) {}

RetryBudget::Bucket& RetryBudget::Current(absl::Time now) {
  const int64_t second = absl::ToUnixSeconds(now);
  Bucket& b = buckets_[static_cast<size_t>(((second % seconds_) + seconds_) %
                                           seconds_)];
  if (b.second != second) b = Bucket{second, 0, 0};
  return b;
}

void RetryBudget::RecordCall() {
  absl::MutexLock lock(&mu_);
  ++Current(clock_.Now()).calls;
}

bool RetryBudget::TryRetry() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  Bucket& current = Current(now);
  const int64_t second = absl::ToUnixSeconds(now);
  int64_t calls = 0, retries = 0;
  for (const Bucket& b : buckets_) {
    if (b.second > second - seconds_ && b.second <= second) {
      calls += b.calls;
      retries += b.retries;
    }
  }
  const double allowed =
      config_.ratio * static_cast<double>(calls) +
      config_.min_retries_per_second * static_cast<double>(seconds_);
  if (static_cast<double>(retries) + 1 > allowed) return false;
  ++current.retries;
  return true;
}

}  // namespace sagaworks::resilience
