// Resilience configuration: the defaults of common/resilience, overridden per
// downstream and per method from the JSON file --resilience-config names
// (see proto/sagaworks/v1/resilience_config.proto).
#ifndef SAGAWORKS_COMMON_RESILIENCE_CONFIG_H_
#define SAGAWORKS_COMMON_RESILIENCE_CONFIG_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/resilience/downstream.h"
#include "sagaworks/v1/resilience_config.pb.h"

namespace sagaworks::resilience {

// ParseResilienceSettings reads the JSON text of a configuration file. Unknown
// keys, downstream names not in `known`, and values that make an impossible
// configuration are errors naming the setting
// ("downstreams.payment.breaker.minimum_calls ...").
absl::StatusOr<v1::ResilienceSettings> ParseResilienceSettings(
    const std::string& json, const std::set<std::string>& known);

// LoadResilienceSettings reads and parses a file.
absl::StatusOr<v1::ResilienceSettings> LoadResilienceSettings(
    const std::string& path, const std::set<std::string>& known);

// ConfigFor applies the file's defaults, then its section for `downstream`, to
// `base`, and validates the result.
absl::StatusOr<DownstreamConfig> ConfigFor(
    const v1::ResilienceSettings& settings, const std::string& downstream,
    DownstreamConfig base);

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_CONFIG_H_
