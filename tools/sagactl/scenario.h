// Load scenarios: the platform under a steady open-loop load while one
// participant misbehaves in a known way (fails a share of its calls, answers
// late, or both) or the load bursts, each scenario reported as a client and
// an operator see it: outcomes, latency, compensations, the breaker states
// the orchestrators went through, orders lost, money and stock, and each
// SLI against deploy/slo.yaml with the error budget it consumed.
//
// Example:
//   ScenarioOptions o;  // the six scenarios' defaults; faults on payment
//   return RunScenarios(platform, {"all"}, o, std::cout);
#ifndef SAGAWORKS_TOOLS_SAGACTL_SCENARIO_H_
#define SAGAWORKS_TOOLS_SAGACTL_SCENARIO_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/sagactl/platform.h"
#include "tools/sagactl/slo.h"

namespace sagaworks::sagactl {

struct ScenarioOptions {
  // The participant that gets the faults: payment, inventory or shipping.
  std::string target = "payment";
  double rate = 20;     // orders per second in every scenario but the burst
  double seconds = 20;  // how long each scenario's load runs
  double burst_rate = 200;
  double burst_seconds = 10;
  double low_failure_rate = 0.10;   // failures-10 and latency-failures
  double high_failure_rate = 0.50;  // failures-50
  int latency_ms = 100;             // latency-100ms and latency-failures
  int callers = 32;                 // orders in flight at most
  int attempts = 3;                 // calls per order at most (see OpenLoop)
  std::string customer = "gameday";
  std::string sku = "bolt";
  // How long to wait for every order to end after each load.
  absl::Duration wait = absl::Seconds(90);
  // How long to wait, before each scenario, for breakers a previous one
  // opened to close again.
  absl::Duration settle = absl::Seconds(30);
  // The SLO file; its SLIs end each summary.
  std::string slo_path;
  bool json = false;        // one JSON document instead of the text
  std::string report_path;  // also write the HTML report here

  absl::Status Validate() const;
};

// ScenarioNames lists the six scenarios in the order `all` runs them.
std::vector<std::string> ScenarioNames();

// RunScenarios runs the named scenarios ("all" for every one) in order.
// Returns 0 when no order was lost and money and stock match the approved
// orders in every scenario (an SLO missed under an injected fault is what
// the report is for, not a failure), 1 otherwise, 2 when the platform or the
// options are not fit for the run (named).
int RunScenarios(Platform& platform, const std::vector<std::string>& names,
                 const ScenarioOptions& options, std::ostream& out);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_SCENARIO_H_
