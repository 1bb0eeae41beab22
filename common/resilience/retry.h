// Retry: which failures may be retried, how long to wait before the next
// attempt (exponential backoff with full or decorrelated jitter, or the
// server's grpc-retry-pushback-ms), and a RetryBudget that keeps retries a
// bounded fraction of calls so a struggling downstream is not buried in them.
#ifndef SAGAWORKS_COMMON_RESILIENCE_RETRY_H_
#define SAGAWORKS_COMMON_RESILIENCE_RETRY_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks::resilience {

enum class Jitter {
  // Uniform in [0, min(max, initial * multiplier^(n-1))].
  kFull,
  // Uniform in [initial, min(max, 3 * previous delay)]: spreads retries like
  // full jitter while never dropping to (almost) zero.
  kDecorrelated,
};

struct RetryConfig {
  // Attempts in all, the first included; 1 disables retries.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
  double multiplier = 2.0;
  Jitter jitter = Jitter::kFull;
  // Wait what the server asks in grpc-retry-pushback-ms (and do not retry
  // when it says not to), instead of our own backoff.
  bool honor_pushback = true;

  absl::Status Validate() const;
};

// IsRetryable: UNAVAILABLE and RESOURCE_EXHAUSTED always; DEADLINE_EXCEEDED
// and ABORTED only when the call is idempotent (it carries an idempotency key
// or its effect is keyed), since the first attempt may have taken effect.
bool IsRetryable(absl::StatusCode code, bool idempotent);

// Pushback is the server's grpc-retry-pushback-ms trailer, read per gRPC's
// retry design: absent, a delay to wait, or (negative or malformed) "do not
// retry".
struct Pushback {
  enum class Kind { kAbsent, kDelay, kStop };
  Kind kind = Kind::kAbsent;
  absl::Duration delay = absl::ZeroDuration();
};
Pushback ParsePushback(std::optional<absl::string_view> value);

// RetryBackoff yields the delays of one call's retries. Not thread-safe: one
// per call.
class RetryBackoff {
 public:
  explicit RetryBackoff(const RetryConfig& config) : config_(config) {}
  // Next is the delay before the next retry, given a draw from [0, 1).
  absl::Duration Next(double uniform01);

 private:
  const RetryConfig& config_;
  int retries_ = 0;
  absl::Duration previous_ = absl::ZeroDuration();
};

struct RetryBudgetConfig {
  // Retries allowed per call made, over the window...
  double ratio = 0.2;
  // ...plus this many per second of window, so a quiet caller can still
  // retry.
  double min_retries_per_second = 5;
  absl::Duration window = absl::Seconds(10);

  absl::Status Validate() const;
};

// RetryBudget counts calls and retries over a sliding window (one-second
// buckets) and refuses a retry that would exceed
// ratio * calls + min_retries_per_second * window_seconds. Thread-safe; one
// per downstream.
class RetryBudget {
 public:
  RetryBudget(RetryBudgetConfig config, Clock& clock);
  // RecordCall counts a call's first attempt.
  void RecordCall();
  // TryRetry takes one retry from the budget; false when it is spent.
  [[nodiscard]] bool TryRetry();

 private:
  struct Bucket {
    int64_t second = INT64_MIN;
    int64_t calls = 0;
    int64_t retries = 0;
  };
  Bucket& Current(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RetryBudgetConfig config_;
  Clock& clock_;
  const int64_t seconds_;
  absl::Mutex mu_;
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_RETRY_H_
