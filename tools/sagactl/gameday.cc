#include "tools/sagactl/gameday.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/client/channel.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "tools/sagactl/open_loop.h"

namespace sagaworks::sagactl {
namespace {

using google::protobuf::util::TimeUtil;
using platform::Service;

// A fault as it happened, `at` from the start of the load.
struct Happened {
  absl::Duration at;
  std::string what;
};

// The counters a GameDay reports, each summed over every sample of its
// family whose labels contain `labels` ("" for all).
struct Watched {
  const char* what;
  const char* family;
  const char* labels;
};
constexpr Watched kWatched[] = {
    {"client retries", "sagaworks_rpc_client_retries_total", ""},
    {"breaker transitions", "sagaworks_circuit_breaker_transitions_total", ""},
    {"calls refused by open breakers",
     "sagaworks_circuit_breaker_rejections_total", ""},
    {"calls answered UNAVAILABLE", "sagaworks_rpc_server_requests_total",
     "code=\"UNAVAILABLE\""},
    {"orders let through on stale catalog data",
     "sagaworks_catalog_stale_answers_total", ""},
};

double SumFamily(absl::string_view page, const Watched& w) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, w.family)) continue;
    const absl::string_view rest = line.substr(strlen(w.family));
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;
    if (!absl::StrContains(rest, w.labels)) continue;
    double v = 0;
    if (absl::SimpleAtod(rest.substr(rest.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

// Counters per process and watched family, read from every process's
// /metrics (a process that does not answer reads as none).
std::map<std::string, std::vector<double>> ReadCounters(Platform& platform) {
  std::map<std::string, std::vector<double>> out;
  for (const platform::ServiceInfo& instance : platform.Instances()) {
    absl::StatusOr<std::string> page = platform.MetricsPage(instance);
    std::vector<double>& v = out[instance.name];
    for (const Watched& w : kWatched) {
      v.push_back(page.ok() ? SumFamily(*page, w) : 0);
    }
  }
  return out;
}

}  // namespace

absl::Status GameDayOptions::Validate() const {
  if (!(rate > 0 && rate <= 1000)) {
    return absl::InvalidArgumentError("--rate must be from 0 to 1000 orders/s");
  }
  if (!(seconds >= 1 && seconds <= 3600)) {
    return absl::InvalidArgumentError("--seconds must be from 1 to 3600");
  }
  if (callers < 1 || callers > 256) {
    return absl::InvalidArgumentError("--callers must be from 1 to 256");
  }
  if (attempts < 1 || attempts > 10) {
    return absl::InvalidArgumentError("--attempts must be from 1 to 10");
  }
  if (first_fault < absl::ZeroDuration() ||
      first_fault >= absl::Seconds(seconds)) {
    return absl::InvalidArgumentError(
        "--first-fault must fall within the load's --seconds");
  }
  if (fault_spacing < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--fault-spacing must not be negative");
  }
  return absl::OkStatus();
}

OpenLoop GameDayOptions::Load() const {
  OpenLoop load;
  load.rate = rate;
  load.seconds = seconds;
  load.callers = callers;
  load.customer = customer;
  load.sku = sku;
  load.attempts = attempts;
  load.key_prefix = "sagactl-gameday-";
  return load;
}

int RunGameDay(Platform& platform, const std::string& name,
               const std::vector<Fault>& faults,
               const std::function<absl::Status()>& repair,
               const GameDayOptions& options, std::ostream& out) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    out << "sagactl gameday: " << s.message() << "\n";
    return 2;
  }
  absl::StatusOr<std::string> authorization = platform.Bearer(options.customer);
  if (!authorization.ok()) {
    out << "sagactl gameday: " << authorization.status().message() << "\n";
    return 2;
  }
  Calls calls(platform, *authorization);
  const OpenLoop load = options.Load();
  const absl::StatusOr<int64_t> balance_before =
      calls.Balance(options.customer);
  const absl::StatusOr<int64_t> stock_before = calls.Available(options.sku);
  if (!balance_before.ok() || !stock_before.ok()) {
    out << "sagactl gameday: cannot read " << options.customer
        << "'s balance or " << options.sku << "'s stock (the demo data "
        << "has them; is the platform up?): "
        << (balance_before.ok() ? stock_before.status()
                                : balance_before.status())
               .message()
        << "\n";
    return 2;
  }

  out << absl::StrFormat(
             "GameDay %s: %.0f orders/s for %.0f s as %s (1 x %s); faults "
             "from %s, every %s",
             name, options.rate, options.seconds, options.customer, options.sku,
             absl::FormatDuration(options.first_fault),
             absl::FormatDuration(options.fault_spacing))
      << std::endl;
  const std::map<std::string, std::vector<double>> counters_before =
      ReadCounters(platform);
  const absl::Time start = absl::Now() + absl::Milliseconds(200);
  const absl::Time load_ends = start + absl::Seconds(options.seconds);
  std::vector<Happened> happened;
  std::thread faulter([&] {
    for (size_t i = 0; i < faults.size(); ++i) {
      const absl::Time due =
          start + options.first_fault + options.fault_spacing * i;
      if (due >= load_ends) break;
      absl::SleepFor(due - absl::Now());
      const absl::Duration at = absl::Now() - start;
      absl::StatusOr<std::string> done = faults[i].inject();
      happened.push_back(
          {at, absl::StrCat(faults[i].what, " (",
                            done.ok() ? *done : done.status().message(), ")")});
      out << absl::StrFormat("  %6.1f s  %s", absl::ToDoubleSeconds(at),
                             happened.back().what)
          << std::endl;
    }
  });
  const std::vector<Placed> placed =
      PlaceOrders(platform.Target(platform::Info(Service::kOrder)), load,
                  *authorization, start);
  faulter.join();

  const absl::Time repair_start = absl::Now();
  if (absl::Status s = repair(); !s.ok()) {
    out << "repair failed: " << s.message() << "\n";
  } else {
    out << absl::StrFormat("repaired %.1f s after the load ended\n",
                           absl::ToDoubleSeconds(absl::Now() - repair_start));
  }

  // Every accepted order, until it ends or the wait runs out.
  Ended ended = AwaitEnded(calls, placed, options.wait);
  const std::map<std::string, v1::Order>& final = ended.final;
  const std::vector<std::string>& pending = ended.pending;

  int64_t accepted = 0, first_attempt = 0, refused = 0;
  std::string first_refusal;
  for (const Placed& p : placed) {
    if (p.accepted) {
      ++accepted;
      if (p.attempts == 1) ++first_attempt;
    } else {
      if (refused++ == 0) {
        first_refusal = absl::StrFormat(
            "at %.1f s, %s", absl::ToDoubleSeconds(p.at - start), p.error);
      }
    }
  }
  std::map<std::string, int> by_status;
  int64_t approved_cents = 0, approved_units = 0;
  for (const auto& [id, order] : final) {
    ++by_status[ShortEnumName(order.status(),
                              v1::OrderStatus_Name<v1::OrderStatus>,
                              "ORDER_STATUS_")];
    if (order.status() != v1::ORDER_STATUS_APPROVED) continue;
    approved_cents += order.total_cents();
    for (const v1::OrderItem& item : order.items()) {
      if (item.sku() == options.sku) approved_units += item.quantity();
    }
  }
  const int64_t lost = static_cast<int64_t>(pending.size());
  out << absl::StrFormat(
      "orders placed: %d; accepted %d (%d at the first call, %d after a "
      "retry under the same key); refused %d%s\n",
      placed.size(), accepted, first_attempt, accepted - first_attempt, refused,
      refused > 0 ? absl::StrCat(" (first: ", first_refusal, ")") : "");
  out << "ended:";
  for (const auto& [status, n] : by_status) out << " " << n << " " << status;
  out << absl::StrFormat("; not ended after %s: %d\n",
                         absl::FormatDuration(options.wait), lost);
  out << "orders lost: " << lost << "\n";

  // During the faults: orders placed from the first fault to the load's end.
  if (!happened.empty()) {
    const absl::Time from = start + happened.front().at;
    int64_t in_window = 0, approved_in_window = 0;
    for (const Placed& p : placed) {
      if (p.at < from) continue;
      ++in_window;
      auto it = final.find(p.order_id);
      if (p.accepted && it != final.end() &&
          it->second.status() == v1::ORDER_STATUS_APPROVED) {
        ++approved_in_window;
      }
    }
    out << absl::StrFormat(
        "success during the faults (%.1f s to %.1f s): %d of %d orders "
        "approved (%.2f%%)\n",
        absl::ToDoubleSeconds(happened.front().at), options.seconds,
        approved_in_window, in_window,
        in_window == 0 ? 100.0 : 100.0 * approved_in_window / in_window);
  }
  // Approvals per whole second of the load, by when each was approved.
  std::map<int64_t, int64_t> approvals_by_second;
  for (const auto& [id, order] : final) {
    if (order.status() != v1::ORDER_STATUS_APPROVED) continue;
    approvals_by_second[static_cast<int64_t>(std::floor(
        absl::ToDoubleSeconds(TimeOf(order.update_time()) - start)))]++;
  }
  const int64_t full = static_cast<int64_t>(std::floor(options.rate * 0.9));
  for (const Happened& h : happened) {
    const absl::Time at = start + h.at;
    std::optional<absl::Duration> first_approved;
    for (const Placed& p : placed) {
      if (p.at < at || !p.accepted) continue;
      auto it = final.find(p.order_id);
      if (it == final.end() ||
          it->second.status() != v1::ORDER_STATUS_APPROVED) {
        continue;
      }
      const absl::Duration after = TimeOf(it->second.update_time()) - at;
      if (!first_approved.has_value() || after < *first_approved) {
        first_approved = after;
      }
    }
    std::optional<int64_t> full_second;
    const int64_t fault_second =
        static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(h.at)));
    for (int64_t sec = fault_second; sec < options.seconds; ++sec) {
      if (approvals_by_second[sec] >= full) {
        full_second = sec;
        break;
      }
    }
    out << absl::StrFormat(
        "after %s: first order approved %s later; full rate (>= %d "
        "approved in a second) %s\n",
        h.what,
        first_approved.has_value()
            ? absl::StrFormat("%.0f ms",
                              absl::ToDoubleMilliseconds(*first_approved))
            : "never",
        full,
        full_second.has_value()
            ? absl::StrFormat("again by %.1f s later",
                              static_cast<double>(*full_second + 1) -
                                  absl::ToDoubleSeconds(h.at))
            : "not again before the load ended");
  }

  // Money and stock, through the public read APIs.
  const absl::StatusOr<int64_t> balance_after = calls.Balance(options.customer);
  const absl::StatusOr<int64_t> stock_after = calls.Available(options.sku);
  bool exact = balance_after.ok() && stock_after.ok();
  if (balance_after.ok()) {
    const int64_t fell = *balance_before - *balance_after;
    exact = exact && fell == approved_cents;
    out << absl::StrFormat(
        "money: %s's balance fell %d cents; the approved orders total %d: "
        "%s\n",
        options.customer, fell, approved_cents,
        fell == approved_cents
            ? "exact"
            : absl::StrCat("OFF BY ", fell - approved_cents));
  } else {
    out << "money: cannot read the balance: "
        << balance_after.status().message() << "\n";
  }
  if (stock_after.ok()) {
    const int64_t fell = *stock_before - *stock_after;
    exact = exact && fell == approved_units;
    out << absl::StrFormat(
        "stock: %s fell %d units; the approved orders hold %d: %s\n",
        options.sku, fell, approved_units,
        fell == approved_units
            ? "exact"
            : absl::StrCat("OFF BY ", fell - approved_units));
  } else {
    out << "stock: cannot read it: " << stock_after.status().message() << "\n";
  }
  // What the processes counted meanwhile (a restarted one from its start).
  const std::map<std::string, std::vector<double>> counters_after =
      ReadCounters(platform);
  std::vector<std::string> counted;
  for (size_t i = 0; i < std::size(kWatched); ++i) {
    double total = 0;
    for (const auto& [name, after] : counters_after) {
      auto before = counters_before.find(name);
      const double was =
          before == counters_before.end() ? 0 : before->second[i];
      total += after[i] >= was ? after[i] - was : after[i];
    }
    counted.push_back(absl::StrFormat("%s %.0f", kWatched[i].what, total));
  }
  out << "the processes counted: " << absl::StrJoin(counted, ", ") << "\n";
  const bool passed = lost == 0 && refused == 0 && exact;
  out << (passed ? "PASSED" : "FAILED")
      << ": no order lost or refused, money and stock exact\n";
  return passed ? 0 : 1;
}

namespace {

// AllServing: every process of the platform reports SERVING; else it names
// the first that does not.
bool AllServing(Platform& platform, const char* gameday, std::ostream& out) {
  for (const platform::ServiceInfo& instance : platform.Instances()) {
    if (platform.Status(instance).health != Health::kServing) {
      out << "sagactl gameday " << gameday << ": " << Platform::Label(instance)
          << " is not SERVING; sagactl status tells more\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int ReplicaLossGameDay(Platform& platform, const GameDayOptions& options,
                       std::ostream& out) {
  if (platform.replicas() < 2) {
    out << "sagactl gameday replica-loss: the platform runs one replica of "
           "each service; start it with `sagactl up --replicas 2`\n";
    return 2;
  }
  if (!AllServing(platform, "replica-loss", out)) return 2;
  // The entry point first, then the orchestrator, then the participants.
  std::vector<const platform::ServiceInfo*> victims;
  for (Service id :
       {Service::kOrder, Service::kOrchestrator, Service::kInventory,
        Service::kPayment, Service::kShipping}) {
    const platform::ServiceInfo* victim =
        platform.FindInstance(platform::Info(id).name + "#2");
    if (victim != nullptr) victims.push_back(victim);
  }
  std::vector<Fault> faults;
  for (const platform::ServiceInfo* victim : victims) {
    faults.push_back(
        {absl::StrCat("kill -9 ", Platform::Label(*victim)),
         [&platform, victim]() -> absl::StatusOr<std::string> {
           const std::optional<pid_t> pid = platform.Status(*victim).pid;
           if (!pid.has_value()) {
             return absl::FailedPreconditionError("was not running");
           }
           if (absl::Status s = platform.StopService(*victim, /*hard=*/true);
               !s.ok()) {
             return s;
           }
           return absl::StrCat("pid ", *pid);
         }});
  }
  const auto repair = [&platform, &victims]() -> absl::Status {
    for (const platform::ServiceInfo* victim : victims) {
      absl::StatusOr<pid_t> pid = platform.StartService(*victim);
      if (!pid.ok()) return pid.status();
    }
    return platform.WaitServing(victims);
  };
  return RunGameDay(platform, "replica-loss", faults, repair, options, out);
}

int DbFailoverGameDay(Platform& platform, const GameDayOptions& options,
                      std::ostream& out) {
  local::HaCluster* ha = platform.ha();
  if (ha == nullptr) {
    out << "sagactl gameday db-failover: PostgreSQL runs as one server; "
           "start the platform with `sagactl up --ha`\n";
    return 2;
  }
  if (!AllServing(platform, "db-failover", out)) return 2;
  if (absl::Status s = ha->AwaitSyncStandby(absl::Seconds(5)); !s.ok()) {
    out << "sagactl gameday db-failover: " << s.message() << "\n";
    return 2;
  }
  const Fault kill_primary{
      "kill -9 the PostgreSQL primary's postmaster",
      [ha]() -> absl::StatusOr<std::string> {
        const std::optional<int> old = ha->Primary();
        const absl::Time at = absl::Now();
        absl::StatusOr<pid_t> pid = ha->KillPrimaryPostmaster();
        if (!pid.ok()) return pid.status();
        // Patroni promotes the synchronous standby; the time until a node
        // other than the old one says it is primary.
        std::optional<int> now;
        while (absl::Now() - at < absl::Seconds(60)) {
          now = ha->Primary();
          if (now.has_value() && now != old) break;
          absl::SleepFor(absl::Milliseconds(50));
        }
        if (!now.has_value() || now == old) {
          return absl::StrCat("pid ", *pid, "; no new primary within 60 s");
        }
        return absl::StrFormat("pid %d; node%d primary %.1f s later", *pid,
                               *now + 1,
                               absl::ToDoubleSeconds(absl::Now() - at));
      }};
  // Patroni brings the old primary back as the standby by itself.
  const auto repair = [ha]() {
    return ha->AwaitSyncStandby(absl::Seconds(120));
  };
  return RunGameDay(platform, "db-failover", {kill_primary}, repair, options,
                    out);
}

}  // namespace sagaworks::sagactl
