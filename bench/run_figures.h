// RunFigures: the headline figures of one saga_throughput run, read back
// from what it printed, so that `saga_throughput --compare` can set two
// builds side by side (an older build prints the same lines).
#ifndef SAGAWORKS_BENCH_RUN_FIGURES_H_
#define SAGAWORKS_BENCH_RUN_FIGURES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sagaworks::bench {

// The platform's processes whose own CPU per saga --compare sets side by
// side, as the per-process tables name them.
inline const std::vector<std::string>& PlatformProcesses() {
  static const auto* names = new std::vector<std::string>{
      "orchestrator", "order", "inventory", "payment", "shipping"};
  return *names;
}

struct RunFigures {
  double sagas_per_second = 0;  // completed, at saturation
  // Completed when each client waits for its order to end; 0 from a build
  // that does not measure it.
  double closed_loop_sagas_per_second = 0;
  double cpu_ms_saturation = 0;  // CPU per saga, all processes
  double cpu_ms_half = 0;
  // Each platform process's own part of those (its database not included),
  // in the order of PlatformProcesses(); 0 where the run did not list it.
  std::vector<double> process_cpu_ms_saturation;
  std::vector<double> process_cpu_ms_half;
  double commits_saturation = 0;  // database commits per saga
  double commits_half = 0;
  double half_p50_ms = 0;
  double half_p99_ms = 0;
  double chains_p99_over_p50 = 0;  // the machine's own tail, same run
  double pgbench_tps = 0;
  int failed_calls = 0;
};

// ParseRunFigures reads a run's output; INVALID_ARGUMENT naming the first
// figure it lacks (a run that died, or a format it does not know).
absl::StatusOr<RunFigures> ParseRunFigures(absl::string_view output);

// CompareTable prints the runs of two builds side by side, pair by pair,
// then their medians and the ratio current / other.
std::string CompareTable(const std::vector<RunFigures>& other,
                         const std::vector<RunFigures>& current);

}  // namespace sagaworks::bench

#endif  // SAGAWORKS_BENCH_RUN_FIGURES_H_
