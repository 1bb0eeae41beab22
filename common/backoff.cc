#include "common/backoff.h"

#include <algorithm>
#include <cmath>

namespace sagaworks {

absl::Status BackoffConfig::Validate() const {
  if (initial <= absl::ZeroDuration() || max < initial) {
    return absl::InvalidArgumentError(
        "backoff: initial must be positive and at most max");
  }
  if (!(multiplier >= 1.0)) {
    return absl::InvalidArgumentError("backoff: multiplier must be >= 1");
  }
  return absl::OkStatus();
}

absl::Duration BackoffCeiling(const BackoffConfig& config, int attempt) {
  if (attempt < 1) attempt = 1;
  // Computed in floating point so large attempt numbers saturate at max
  // instead of overflowing.
  const double scaled = absl::ToDoubleSeconds(config.initial) *
                        std::pow(config.multiplier, attempt - 1);
  const double capped = std::min(scaled, absl::ToDoubleSeconds(config.max));
  return absl::Seconds(capped);
}

absl::Duration BackoffDelay(const BackoffConfig& config, int attempt,
                            double uniform01) {
  uniform01 = std::clamp(uniform01, 0.0, 1.0);
  return BackoffCeiling(config, attempt) * uniform01;
}

}  // namespace sagaworks
