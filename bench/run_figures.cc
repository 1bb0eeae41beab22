#include "bench/run_figures.h"

#include <algorithm>
#include <functional>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace sagaworks::bench {
namespace {

// Finds `pattern` in `text` (from its `nth` match on, 0-based) and stores
// its capture groups in order.
bool Find(const std::string& text, const char* pattern,
          std::vector<double*> out, int nth = 0) {
  const std::regex re(pattern);
  auto it = std::sregex_iterator(text.begin(), text.end(), re);
  for (int i = 0; i < nth && it != std::sregex_iterator(); ++i) ++it;
  if (it == std::sregex_iterator()) return false;
  for (size_t g = 0; g < out.size(); ++g) {
    *out[g] = std::stod((*it)[g + 1].str());
  }
  return true;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

absl::StatusOr<RunFigures> ParseRunFigures(absl::string_view output) {
  const std::string text(output);
  RunFigures f;
  double failed = 0, unused = 0;
  struct Wanted {
    const char* what;
    const char* pattern;
    std::vector<double*> out;
    int nth;
  };
  const std::vector<Wanted> wanted = {
      {"completed sagas/s",
       R"(([0-9.]+) completed sagas/s)",
       {&f.sagas_per_second},
       0},
      {"commits per saga at saturation",
       R"(([0-9.]+) database commits per saga)",
       {&f.commits_saturation},
       0},
      {"commits per saga at half load",
       R"(([0-9.]+) database commits per saga)",
       {&f.commits_half},
       1},
      {"half-load latency",
       R"(sagas: p50 ([0-9.]+) ms, p90 [0-9.]+ ms, p99 ([0-9.]+) ms)",
       {&f.half_p50_ms, &f.half_p99_ms},
       0},
      {"commit chains' tail",
       R"(chains of [0-9]+ commits.*p99 ([0-9.]+) ms, p99/p50 ([0-9.]+))",
       {&unused, &f.chains_p99_over_p50},
       0},
      {"pgbench", R"(single-row INSERT: ([0-9.]+) tps)", {&f.pgbench_tps}, 0},
      {"failed calls", R"(failed CreateOrder calls: ([0-9]+))", {&failed}, 0},
      {"CPU per saga at saturation",
       R"(([0-9.]+) ms of CPU per saga in all)",
       {&f.cpu_ms_saturation},
       0},
      {"CPU per saga at half load",
       R"(([0-9.]+) ms of CPU per saga in all)",
       {&f.cpu_ms_half},
       1},
  };
  for (const Wanted& w : wanted) {
    if (!Find(text, w.pattern, w.out, w.nth)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the run printed no ", w.what));
    }
  }
  f.failed_calls = static_cast<int>(failed);
  // Each per-process table lists every process's share of that phase; a
  // database's line starts with "db ", so it does not match.
  for (const std::string& name : PlatformProcesses()) {
    const std::string share = absl::StrCat(R"(\n  )", name, R"( +([0-9.]+)%)");
    double saturation = 0, half = 0;
    Find(text, share.c_str(), {&saturation}, 0);
    Find(text, share.c_str(), {&half}, 1);
    f.process_cpu_ms_saturation.push_back(f.cpu_ms_saturation * saturation /
                                          100);
    f.process_cpu_ms_half.push_back(f.cpu_ms_half * half / 100);
  }
  // Optional: builds from before the closed-loop phase do not print it.
  Find(
      text,
      R"(each waits for its order to end[^\n]*\n\s+[0-9]+ sagas: ([0-9.]+) completed sagas/s)",
      {&f.closed_loop_sagas_per_second});
  return f;
}

std::string CompareTable(const std::vector<RunFigures>& other,
                         const std::vector<RunFigures>& current) {
  struct Row {
    std::string name;
    std::function<double(const RunFigures&)> get;
    const char* format;
  };
  // One row per platform process under each phase's CPU per saga.
  auto by_process = [](std::vector<Row>* rows,
                       std::vector<double> RunFigures::*phase) {
    for (size_t i = 0; i < PlatformProcesses().size(); ++i) {
      rows->push_back(
          {absl::StrCat("  of which ", PlatformProcesses()[i], " (ms)"),
           [phase, i](const RunFigures& f) {
             return i < (f.*phase).size() ? (f.*phase)[i] : 0.0;
           },
           "%.2f"});
    }
  };
  std::vector<Row> rows = {
      {"completed sagas/s at saturation",
       [](const RunFigures& f) { return f.sagas_per_second; }, "%.1f"},
      {"completed sagas/s, closed loop",
       [](const RunFigures& f) { return f.closed_loop_sagas_per_second; },
       "%.1f"},
      {"CPU per saga at saturation (ms)",
       [](const RunFigures& f) { return f.cpu_ms_saturation; }, "%.2f"}};
  by_process(&rows, &RunFigures::process_cpu_ms_saturation);
  rows.push_back({"CPU per saga at half load (ms)",
                  [](const RunFigures& f) { return f.cpu_ms_half; }, "%.2f"});
  by_process(&rows, &RunFigures::process_cpu_ms_half);
  const std::vector<Row> rest = {
      {"commits per saga at saturation",
       [](const RunFigures& f) { return f.commits_saturation; }, "%.1f"},
      {"commits per saga at half load",
       [](const RunFigures& f) { return f.commits_half; }, "%.1f"},
      {"half load p50 (ms)", [](const RunFigures& f) { return f.half_p50_ms; },
       "%.1f"},
      {"half load p99/p50",
       [](const RunFigures& f) {
         return f.half_p99_ms / std::max(f.half_p50_ms, 1e-9);
       },
       "%.2f"},
      {"commit chains p99/p50",
       [](const RunFigures& f) { return f.chains_p99_over_p50; }, "%.2f"},
      {"pgbench tps", [](const RunFigures& f) { return f.pgbench_tps; },
       "%.0f"},
      {"sagas/s per pgbench tps",
       [](const RunFigures& f) {
         return f.sagas_per_second / std::max(f.pgbench_tps, 1e-9);
       },
       "%.4f"},
      {"failed CreateOrder calls",
       [](const RunFigures& f) { return f.failed_calls; }, "%.0f"},
  };
  rows.insert(rows.end(), rest.begin(), rest.end());
  auto cells = [](const std::vector<RunFigures>& runs, const Row& row,
                  std::vector<double>* values) {
    std::vector<std::string> out;
    for (const RunFigures& f : runs) {
      values->push_back(row.get(f));
      out.push_back(absl::StrFormat(*absl::ParsedFormat<'f'>::New(row.format),
                                    values->back()));
    }
    return absl::StrJoin(out, " ");
  };
  std::string table = absl::StrFormat(
      "%-34s  %-26s %10s  %-26s %10s  %s\n", "figure", "other build, by pair",
      "median", "this build, by pair", "median", "this/other");
  for (const Row& row : rows) {
    std::vector<double> a, b;
    const std::string a_cells = cells(other, row, &a);
    const std::string b_cells = cells(current, row, &b);
    const auto fmt = *absl::ParsedFormat<'f'>::New(row.format);
    const double ma = Median(a), mb = Median(b);
    absl::StrAppend(
        &table, absl::StrFormat(
                    "%-34s  %-26s %10s  %-26s %10s  %s\n", row.name, a_cells,
                    absl::StrFormat(fmt, ma), b_cells, absl::StrFormat(fmt, mb),
                    ma > 0 ? absl::StrFormat("%.2f", mb / ma) : "-"));
  }
  return table;
}

}  // namespace sagaworks::bench
