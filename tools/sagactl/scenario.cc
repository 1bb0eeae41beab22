#include "tools/sagactl/scenario.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/client/channel.h"
#include "common/enum_names.h"
#include "common/observability/metrics.h"
#include "nlohmann/json.hpp"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "tools/sagactl/load.h"
#include "tools/sagactl/open_loop.h"
#include "web/assets.h"

namespace sagaworks::sagactl {
namespace {

using nlohmann::json;
using platform::Service;

constexpr absl::Duration kSampleEvery = absl::Milliseconds(250);
constexpr absl::Duration kAdminTimeout = absl::Seconds(2);
// The codes that count against CreateOrder's availability: the server's
// failures, not the caller's (deploy/slo.yaml says the same).
constexpr grpc::StatusCode kServerFailures[] = {
    grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::INTERNAL,
    grpc::StatusCode::UNKNOWN, grpc::StatusCode::DEADLINE_EXCEEDED,
    grpc::StatusCode::DATA_LOSS};

struct Scenario {
  std::string name;
  std::string what;
  double rate;
  double seconds;
  double failure_rate;
  int latency_ms;
};

std::vector<Scenario> Build(const ScenarioOptions& o) {
  const std::string& t = o.target;
  const auto fails = [&t](double share) {
    return absl::StrFormat("%g%% of %s's calls fail UNAVAILABLE", share * 100,
                           t);
  };
  const std::string late =
      absl::StrFormat("%s answers %d ms late", t, o.latency_ms);
  return {
      {"baseline", "no fault", o.rate, o.seconds, 0, 0},
      {"failures-10", fails(o.low_failure_rate), o.rate, o.seconds,
       o.low_failure_rate, 0},
      {"failures-50", fails(o.high_failure_rate), o.rate, o.seconds,
       o.high_failure_rate, 0},
      {"latency-100ms", late, o.rate, o.seconds, 0, o.latency_ms},
      {"latency-failures",
       absl::StrCat(late, " and ", fails(o.low_failure_rate)), o.rate,
       o.seconds, o.low_failure_rate, o.latency_ms},
      {"burst", absl::StrFormat("%g orders/s, no fault", o.burst_rate),
       o.burst_rate, o.burst_seconds, 0, 0},
  };
}

// Breaker states, as GetResilienceStatus reports them.
enum BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

// BreakerSampler asks every orchestrator, every kSampleEvery, for its
// breakers to the target and keeps the worst state each time.
class BreakerSampler {
 public:
  struct Sample {
    double t;  // seconds from the start of the load
    int state;
  };

  BreakerSampler(Platform& platform, const std::string& target)
      : target_(target) {
    for (const platform::ServiceInfo& instance : platform.Instances()) {
      if (instance.id != Service::kOrchestrator) continue;
      admins_.push_back(
          v1::AdminService::NewStub(Dial(platform.Address(instance))));
    }
  }

  // State is the worst breaker state toward the target any orchestrator
  // reports now (closed when none answers).
  int State() {
    int worst = kClosed;
    for (auto& admin : admins_) {
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + kAdminTimeout));
      v1::ResilienceStatus status;
      if (!admin->GetResilienceStatus(&c, {}, &status).ok()) continue;
      for (const v1::DownstreamStatus& d : status.downstreams()) {
        if (d.name() != target_) continue;
        for (const v1::BreakerStatus& b : d.breakers()) {
          if (b.state() == "open") worst = kOpen;
          if (b.state() == "half_open" && worst == kClosed) worst = kHalfOpen;
        }
      }
    }
    return worst;
  }

  void Start(absl::Time start) {
    thread_ = std::thread([this, start] {
      do {
        const int state = State();
        absl::MutexLock lock(&mu_);
        samples_.push_back({absl::ToDoubleSeconds(absl::Now() - start), state});
      } while (!stop_.WaitForNotificationWithTimeout(kSampleEvery));
    });
  }

  std::vector<Sample> Stop() {
    stop_.Notify();
    if (thread_.joinable()) thread_.join();
    absl::MutexLock lock(&mu_);
    return samples_;
  }

 private:
  const std::string target_;
  std::vector<std::unique_ptr<v1::AdminService::Stub>> admins_;
  absl::Notification stop_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Sample> samples_ ABSL_GUARDED_BY(mu_);
};

// SetFault sets (or, with a zero rule, clears) the scenario's fault on
// every replica of the target; returns what it could not do.
absl::Status SetFault(Platform& platform, const std::string& target,
                      double failure_rate, int latency_ms) {
  for (const platform::ServiceInfo& instance : platform.Instances()) {
    if (instance.name != target && instance.name.rfind(target + "#", 0) != 0) {
      continue;
    }
    auto chaos = v1::ChaosService::NewStub(Dial(platform.Address(instance)));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + kAdminTimeout));
    v1::ChaosState state;
    grpc::Status s;
    if (failure_rate == 0 && latency_ms == 0) {
      s = chaos->ClearChaos(&c, {}, &state);
    } else {
      v1::SetChaosRequest request;
      request.mutable_rule()->set_failure_rate(failure_rate);
      request.mutable_rule()->set_latency_ms(latency_ms);
      s = chaos->SetChaos(&c, request, &state);
    }
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          Platform::Label(instance), ": ", Describe(s),
          s.error_code() == grpc::StatusCode::FAILED_PRECONDITION
              ? " (start it with --enable-chaos, as `sagactl up` does)"
              : ""));
    }
  }
  return absl::OkStatus();
}

// Sagas the orchestrators counted as compensated so far.
double CompensatedSoFar(Platform& platform) {
  double sum = 0;
  for (const platform::ServiceInfo& instance : platform.Instances()) {
    if (instance.id != Service::kOrchestrator) continue;
    absl::StatusOr<std::string> page = platform.MetricsPage(instance);
    if (!page.ok()) continue;
    sum += metrics::SampleValue(
               *page, "sagaworks_sagas_finished_total{status=\"compensated\"}")
               .value_or(0);
  }
  return sum;
}

json Stats(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const double avg =
      ms.empty() ? 0 : std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size();
  return {{"count", ms.size()},
          {"avg", std::round(avg)},
          {"p50", std::round(Percentile(ms, 0.5))},
          {"p95", std::round(Percentile(ms, 0.95))},
          {"p99", std::round(Percentile(ms, 0.99))}};
}

std::string StatsLine(const json& s) {
  return absl::StrFormat("avg %.0f ms, p50 %.0f ms, p95 %.0f ms, p99 %.0f ms",
                         s["avg"].get<double>(), s["p50"].get<double>(),
                         s["p95"].get<double>(), s["p99"].get<double>());
}

// Run runs one scenario and returns its figures as the JSON document's
// entry; "error" is set when it could not run.
json Run(Platform& platform, const Scenario& scenario,
         const ScenarioOptions& options, const SloFile& slos,
         const std::string& authorization, std::ostream& progress) {
  json r = {{"name", scenario.name},
            {"description", scenario.what},
            {"rate", scenario.rate},
            {"seconds", scenario.seconds},
            {"fault",
             {{"service", options.target},
              {"failure_rate", scenario.failure_rate},
              {"latency_ms", scenario.latency_ms}}}};
  BreakerSampler breakers(platform, options.target);
  // A breaker a previous scenario opened closes first, so that each
  // scenario starts from a healthy platform.
  const absl::Time settle_until = absl::Now() + options.settle;
  while (breakers.State() != kClosed && absl::Now() < settle_until) {
    absl::SleepFor(kSampleEvery);
  }
  Calls calls(platform, authorization);
  const absl::StatusOr<int64_t> balance_before =
      calls.Balance(options.customer);
  const absl::StatusOr<int64_t> stock_before = calls.Available(options.sku);
  if (!balance_before.ok() || !stock_before.ok()) {
    r["error"] = absl::StrCat(
        "cannot read ", options.customer, "'s balance or ", options.sku,
        "'s stock (the demo data has them; is the platform up?): ",
        (balance_before.ok() ? stock_before.status() : balance_before.status())
            .message());
    return r;
  }
  if (absl::Status s = SetFault(platform, options.target, scenario.failure_rate,
                                scenario.latency_ms);
      !s.ok()) {
    r["error"] = std::string(s.message());
    SetFault(platform, options.target, 0, 0).IgnoreError();
    return r;
  }
  const double compensated_before = CompensatedSoFar(platform);
  OpenLoop load;
  load.rate = scenario.rate;
  load.seconds = scenario.seconds;
  load.callers = options.callers;
  load.customer = options.customer;
  load.sku = options.sku;
  load.attempts = options.attempts;
  load.key_prefix = absl::StrCat("sagactl-scenario-", scenario.name, "-");
  const absl::Time start = absl::Now() + absl::Milliseconds(100);
  breakers.Start(start);
  const std::vector<Placed> placed =
      PlaceOrders(platform.Target(platform::Info(Service::kOrder)), load,
                  authorization, start);
  const absl::Status cleared = SetFault(platform, options.target, 0, 0);
  progress << absl::StrFormat("  %s: %d orders placed; waiting for them to end",
                              scenario.name, placed.size())
           << std::endl;
  const Ended ended = AwaitEnded(calls, placed, options.wait);
  const std::vector<BreakerSampler::Sample> samples = breakers.Stop();
  if (!cleared.ok()) r["fault_not_cleared"] = std::string(cleared.message());

  // Outcomes, latency and the availability SLI from the client's side.
  int64_t accepted = 0, refused = 0, calls_made = 0, calls_failed = 0;
  std::map<std::string, int64_t> by_status;
  std::vector<double> final_all, final_ok, call_ms;
  int64_t approved_cents = 0, approved_units = 0;
  struct Second {
    int64_t placed = 0, approved = 0, rejected = 0, refused = 0;
    std::vector<double> final_ms;
  };
  std::vector<Second> seconds(static_cast<size_t>(std::ceil(scenario.seconds)) +
                              1);
  for (const Placed& p : placed) {
    Second& second = seconds[std::min(
        seconds.size() - 1, static_cast<size_t>(std::max(
                                0.0, absl::ToDoubleSeconds(p.at - start))))];
    ++second.placed;
    calls_made += p.attempts;
    // Every attempt but an accepted order's last failed; the last error
    // stands for them (retries only follow server failures).
    const int failed_calls = p.accepted ? p.attempts - 1 : p.attempts;
    const bool server_failure =
        std::find(std::begin(kServerFailures), std::end(kServerFailures),
                  p.code) != std::end(kServerFailures);
    if (server_failure) calls_failed += failed_calls;
    call_ms.push_back(absl::ToDoubleMilliseconds(p.call_time));
    if (!p.accepted) {
      ++refused;
      ++second.refused;
      continue;
    }
    ++accepted;
    auto it = ended.final.find(p.order_id);
    if (it == ended.final.end()) continue;
    const v1::Order& order = it->second;
    const std::string status = ShortEnumName(
        order.status(), v1::OrderStatus_Name<v1::OrderStatus>, "ORDER_STATUS_");
    ++by_status[status];
    const double ms = absl::ToDoubleMilliseconds(TimeOf(order.update_time()) -
                                                 TimeOf(order.create_time()));
    final_all.push_back(ms);
    second.final_ms.push_back(ms);
    if (order.status() == v1::ORDER_STATUS_APPROVED) {
      final_ok.push_back(ms);
      ++second.approved;
      approved_cents += order.total_cents();
      for (const v1::OrderItem& item : order.items()) {
        if (item.sku() == options.sku) approved_units += item.quantity();
      }
    } else {
      ++second.rejected;
    }
  }
  const int64_t lost = static_cast<int64_t>(ended.pending.size());
  const int64_t total = static_cast<int64_t>(placed.size());
  const int64_t approved = by_status["approved"];
  r["orders"] = {{"placed", total},
                 {"accepted", accepted},
                 {"refused", refused},
                 {"approved", approved},
                 {"rejected", by_status["rejected"]},
                 {"cancelled", by_status["cancelled"]},
                 {"needs_attention", by_status["needs_attention"]},
                 {"lost", lost}};
  r["success_percent"] = total == 0 ? 100.0 : 100.0 * approved / total;
  r["latency_ms"] = {{"order_to_final", Stats(final_all)},
                     {"approved_to_final", Stats(final_ok)},
                     {"create_order_call", Stats(call_ms)}};
  r["compensations"] = static_cast<int64_t>(
      std::llround(CompensatedSoFar(platform) - compensated_before));
  json seen = {{"closed", 0}, {"open", 0}, {"half_open", 0}};
  json band = json::array();
  for (const BreakerSampler::Sample& s : samples) {
    const char* name = s.state == kOpen       ? "open"
                       : s.state == kHalfOpen ? "half_open"
                                              : "closed";
    seen[name] = seen[name].get<int>() + 1;
    band.push_back({{"t", std::round(s.t * 100) / 100}, {"state", s.state}});
  }
  r["breaker_samples"] = seen;
  r["breaker_timeline"] = band;
  json timeline = json::array();
  for (size_t i = 0; i < seconds.size(); ++i) {
    if (seconds[i].placed == 0) continue;
    std::vector<double>& ms = seconds[i].final_ms;
    std::sort(ms.begin(), ms.end());
    timeline.push_back({{"second", i},
                        {"placed", seconds[i].placed},
                        {"approved", seconds[i].approved},
                        {"rejected", seconds[i].rejected},
                        {"refused", seconds[i].refused},
                        {"p50_ms", std::round(Percentile(ms, 0.5))},
                        {"p95_ms", std::round(Percentile(ms, 0.95))}});
  }
  r["timeline"] = timeline;

  const absl::StatusOr<int64_t> balance_after = calls.Balance(options.customer);
  const absl::StatusOr<int64_t> stock_after = calls.Available(options.sku);
  r["money_exact"] =
      balance_after.ok() && *balance_before - *balance_after == approved_cents;
  r["stock_exact"] =
      stock_after.ok() && *stock_before - *stock_after == approved_units;

  json sli = json::array();
  for (const Slo& slo : slos.slos) {
    int64_t good = 0, all = 0;
    if (slo.name == kOrderAvailability) {
      all = calls_made;
      good = calls_made - calls_failed;
    } else if (slo.name == kSagaCompletion) {
      all = accepted;
      good = approved + by_status["rejected"] + by_status["cancelled"];
    } else if (slo.name == kOrderLatency) {
      all = static_cast<int64_t>(final_all.size());
      good = std::count_if(
          final_all.begin(), final_all.end(),
          [&slo](double ms) { return ms <= slo.threshold_seconds * 1000; });
    }
    const Budget b = MeasureBudget(slo, good, all);
    sli.push_back({{"name", slo.name},
                   {"objective", slo.objective},
                   {"good", good},
                   {"total", all},
                   {"sli", b.sli},
                   {"budget_allowed", b.allowed},
                   {"budget_consumed", b.consumed},
                   {"burn_rate", b.burn_rate},
                   {"met", b.met},
                   {"line", BudgetLine(slo, good, all, slos.window_days)}});
  }
  r["slos"] = sli;
  return r;
}

void PrintSummary(const json& r, std::ostream& out) {
  out << "scenario " << r["name"].get<std::string>() << ": "
      << absl::StrFormat("%g orders/s for %g s; ", r["rate"].get<double>(),
                         r["seconds"].get<double>())
      << r["description"].get<std::string>() << "\n";
  if (r.contains("error")) {
    out << "  could not run: " << r["error"].get<std::string>() << "\n";
    return;
  }
  const json& o = r["orders"];
  out << absl::StrFormat(
      "  total %d: %d approved, %d rejected, %d refused, %d needing an "
      "operator; orders lost: %d\n",
      o["placed"].get<int64_t>(), o["approved"].get<int64_t>(),
      o["rejected"].get<int64_t>() + o["cancelled"].get<int64_t>(),
      o["refused"].get<int64_t>(), o["needs_attention"].get<int64_t>(),
      o["lost"].get<int64_t>());
  out << absl::StrFormat("  success: %.2f%% approved\n",
                         r["success_percent"].get<double>());
  const json& l = r["latency_ms"];
  out << "  order to final, all:        " << StatsLine(l["order_to_final"])
      << "\n";
  out << "  order to final, successful: " << StatsLine(l["approved_to_final"])
      << "\n";
  out << "  CreateOrder call:           " << StatsLine(l["create_order_call"])
      << "\n";
  const json& b = r["breaker_samples"];
  out << absl::StrFormat(
      "  compensations run: %d; breakers to %s seen (samples every %s): "
      "closed %d, half_open %d, open %d\n",
      r["compensations"].get<int64_t>(),
      r["fault"]["service"].get<std::string>(),
      absl::FormatDuration(kSampleEvery), b["closed"].get<int>(),
      b["half_open"].get<int>(), b["open"].get<int>());
  out << "  money: " << (r["money_exact"].get<bool>() ? "exact" : "OFF")
      << "; stock: " << (r["stock_exact"].get<bool>() ? "exact" : "OFF")
      << "\n";
  if (r.contains("fault_not_cleared")) {
    out << "  the fault could not be cleared: "
        << r["fault_not_cleared"].get<std::string>() << "\n";
  }
  for (const json& s : r["slos"]) {
    out << "  " << s["line"].get<std::string>() << "\n";
  }
}

}  // namespace

absl::Status ScenarioOptions::Validate() const {
  if (target != "payment" && target != "inventory" && target != "shipping") {
    return absl::InvalidArgumentError(
        "--target must be payment, inventory or shipping");
  }
  for (const auto& [flag, value, max] :
       {std::tuple{"--rate", rate, 1000.0},
        std::tuple{"--burst-rate", burst_rate, 2000.0},
        std::tuple{"--seconds", seconds, 3600.0},
        std::tuple{"--burst-seconds", burst_seconds, 3600.0}}) {
    if (!(value > 0 && value <= max)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s must be above 0 and at most %g", flag, max));
    }
  }
  for (const auto& [flag, value] :
       {std::pair{"--low-failure-rate", low_failure_rate},
        std::pair{"--high-failure-rate", high_failure_rate}}) {
    if (!(value > 0 && value <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " must be above 0 and at most 1"));
    }
  }
  if (latency_ms < 1 || latency_ms > 60000) {
    return absl::InvalidArgumentError("--latency-ms must be from 1 to 60000");
  }
  if (callers < 1 || callers > 256) {
    return absl::InvalidArgumentError("--callers must be from 1 to 256");
  }
  if (attempts < 1 || attempts > 10) {
    return absl::InvalidArgumentError("--attempts must be from 1 to 10");
  }
  return absl::OkStatus();
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const Scenario& s : Build(ScenarioOptions())) names.push_back(s.name);
  return names;
}

int RunScenarios(Platform& platform, const std::vector<std::string>& names,
                 const ScenarioOptions& options, std::ostream& out) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    out << "sagactl load: " << s.message() << "\n";
    return 2;
  }
  const std::vector<Scenario> all = Build(options);
  std::vector<Scenario> chosen;
  for (const std::string& name : names) {
    if (name == "all") {
      chosen.insert(chosen.end(), all.begin(), all.end());
      continue;
    }
    auto it = std::find_if(all.begin(), all.end(), [&name](const Scenario& s) {
      return s.name == name;
    });
    if (it == all.end()) {
      out << "sagactl load: unknown scenario '" << name << "' (all, "
          << absl::StrJoin(ScenarioNames(), ", ") << ")\n";
      return 2;
    }
    chosen.push_back(*it);
  }
  absl::StatusOr<SloFile> slos = LoadSlos(options.slo_path);
  if (!slos.ok()) {
    out << "sagactl load: " << slos.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::string> authorization = platform.Bearer(options.customer);
  if (!authorization.ok()) {
    out << "sagactl load: " << authorization.status().message() << "\n";
    return 2;
  }
  // With --json the document alone goes to `out`; progress goes to stderr.
  std::ostream& progress = options.json ? std::cerr : out;
  json doc = {{"generated", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                             absl::Now(), absl::UTCTimeZone())},
              {"replicas", platform.replicas()},
              {"slo_window_days", slos->window_days},
              {"scenarios", json::array()}};
  bool fine = true;
  for (const Scenario& scenario : chosen) {
    progress << "running " << scenario.name << " (" << scenario.what << ")"
             << std::endl;
    json r = Run(platform, scenario, options, *slos, *authorization, progress);
    if (!options.json) PrintSummary(r, out);
    fine = fine && !r.contains("error") && r["orders"]["lost"] == 0 &&
           r["money_exact"].get<bool>() && r["stock_exact"].get<bool>();
    doc["scenarios"].push_back(std::move(r));
  }
  if (options.json) out << doc.dump(2) << "\n";
  if (!options.report_path.empty()) {
    std::ofstream file(options.report_path);
    file << web::RenderReport(doc.dump());
    if (!file.good()) {
      progress << "sagactl load: cannot write " << options.report_path << "\n";
      return 1;
    }
    progress << "report: " << options.report_path << "\n";
  }
  return fine ? 0 : 1;
}

}  // namespace sagaworks::sagactl
