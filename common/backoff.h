// Backoff: exponential delays with full jitter, computed from an attempt
// number and a uniform draw the caller supplies, so tests fix the draw.
#ifndef SAGAWORKS_COMMON_BACKOFF_H_
#define SAGAWORKS_COMMON_BACKOFF_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sagaworks {

// BackoffConfig: delay before retry n (n = 1, 2, ...) is drawn uniformly from
// [0, min(max, initial * multiplier^(n-1))] ("full jitter"), which spreads
// retries of many callers instead of having them retry in lock-step.
struct BackoffConfig {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;

  absl::Status Validate() const;
};

// BackoffCeiling is the upper bound of the delay before retry `attempt`.
absl::Duration BackoffCeiling(const BackoffConfig& config, int attempt);

// BackoffDelay scales the ceiling by `uniform01`, a draw from [0, 1).
absl::Duration BackoffDelay(const BackoffConfig& config, int attempt,
                            double uniform01);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_BACKOFF_H_
