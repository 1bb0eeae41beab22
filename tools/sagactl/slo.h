// Service level objectives, as deploy/slo.yaml declares them, and the error
// budget arithmetic a load run's report ends with: a run's bad events
// against the budget its events allow.
//
// Example:
//   absl::StatusOr<SloFile> slos = LoadSlos("deploy/slo.yaml");
//   out << BudgetLine(slos->slos[0], /*good=*/9990, /*total=*/10000,
//                     slos->window_days);
#ifndef SAGAWORKS_TOOLS_SAGACTL_SLO_H_
#define SAGAWORKS_TOOLS_SAGACTL_SLO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sagaworks::sagactl {

// The SLIs the platform measures; an SLO file may only name these.
inline constexpr char kOrderAvailability[] = "order_availability";
inline constexpr char kSagaCompletion[] = "saga_completion";
inline constexpr char kOrderLatency[] = "order_latency";

struct Slo {
  std::string name;  // one of the SLIs above
  std::string description;
  double objective = 0;  // fraction of good events, in (0, 1)
  // For order_latency: the time an order may take to its final status.
  double threshold_seconds = 0;
};

struct SloFile {
  int window_days = 30;
  std::vector<Slo> slos;
};

// ParseSlos reads an SLO file's text; INVALID_ARGUMENT naming the setting
// that is wrong. `source` names the file in messages.
absl::StatusOr<SloFile> ParseSlos(const std::string& yaml,
                                  const std::string& source);
absl::StatusOr<SloFile> LoadSlos(const std::string& path);

// Budget is one SLI of a run against its objective.
struct Budget {
  double sli = 1;       // good / total (1 with no events)
  double allowed = 0;   // bad events the objective allows among `total`
  double consumed = 0;  // bad / allowed: 1 spends the whole budget
  // The bad fraction over the budget's: how many times as fast as the
  // window allows the budget burns (1: exactly used up over the window).
  double burn_rate = 0;
  bool met = true;
};
Budget MeasureBudget(const Slo& slo, int64_t good, int64_t total);

// BudgetLine says it for people: "SLO order_availability 99.9%: SLI
// 99.950% (5 bad of 10000); budget 10.0 bad, 50% consumed; burn rate 0.50
// (a 30-day budget would last 60.0 days): met".
std::string BudgetLine(const Slo& slo, int64_t good, int64_t total,
                       int window_days);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_SLO_H_
