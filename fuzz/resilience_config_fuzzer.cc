// Fuzzes the resilience configuration file (JSON an operator writes):
// parsing and applying it to every downstream never crashes, and whatever
// it accepts is a configuration the pipeline accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "common/resilience/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sagaworks::resilience;
  static const std::set<std::string> kKnown = {"order", "payment", "inventory",
                                               "shipping", "orchestrator"};
  const std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<sagaworks::v1::ResilienceSettings> settings =
      ParseResilienceSettings(json, kKnown);
  if (!settings.ok()) return 0;
  for (const std::string& downstream : kKnown) {
    absl::StatusOr<DownstreamConfig> config =
        ConfigFor(*settings, downstream, DownstreamConfig());
    if (config.ok() && !config->Validate().ok()) abort();
  }
  return 0;
}
