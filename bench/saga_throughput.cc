// saga_throughput: how many order sagas per second the local platform
// completes with full durability, next to what the same PostgreSQL does on
// its own.
//
// It starts a throw-away platform (its own cluster with fsync and
// synchronous_commit on, the five real binaries on free loopback ports), seeds
// bench customers and SKUs, readies WAL segments for reuse (RecycleWal),
// and then in one run:
//   1. saturation: --clients closed-loop callers of CreateOrder for
//      --seconds; completed sagas per second from the first order accepted
//      to the last saga finished, and the commits one saga costs (all
//      databases' xact_commit, divided by the sagas; and the writing ones
//      among them, by transaction ids taken);
//   2. half load: after vacuuming, checkpointing and syncing (the burst's
//      clean-up is not half load's to pay) and 3 s of warm-up at the new rate,
//      orders paced at half that rate for
//      --seconds; p50, p90 and p99 of saga latency (order created to order
//      final: created_at, from the order service's clock, to updated_at);
//   3. the machine's own tail at that load (MachineChains): chains of as
//      many autocommitted inserts as a saga's writing commits, burning as
//      much CPU as a saga took, started at the same pace on the same
//      cluster, with no platform in their way;
//   4. pgbench on the same cluster: single-row INSERT transactions with the
//      same number of clients.
//
//   build/bin/saga_throughput [--seconds 10] [--clients 32] [--workers 64]
//                             [--statements] [--half-rate R]
//                             [--db-setting NAME=VALUE] [--keep]
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/run_figures.h"
#include "common/db/pool.h"
#include "common/local/subprocess.h"
#include "common/observability/metrics.h"
#include "sagaworks/v1/order.pb.h"
#include "tools/sagactl/load.h"
#include "tools/sagactl/platform.h"

namespace sagaworks {
namespace {

using platform::Service;

// DatabaseUrl is a service's database in the benchmark's cluster.
std::string DatabaseUrl(const sagactl::Platform& platform, Service service) {
  return platform.cluster().Url(platform::Info(service).database);
}

constexpr int kCustomers = 200;
constexpr int kSkus = 200;
// Paced orders placed before the half-load phase's measured window.
constexpr absl::Duration kHalfLoadWarmUp = absl::Seconds(3);
// WAL segments made ready before measuring (see RecycleWal).
constexpr int kWalSegments = 32;

struct Options {
  double seconds = 10;
  int clients = 32;
  int workers = 64;
  bool keep = false;
  std::vector<std::string> db_settings;  // extra PostgreSQL settings
  bool statements = false;
  // Orders/s in the half-load phase; 0: half the saturation rate.
  double half_rate = 0;
  // Plaintext between the processes instead of mutual TLS.
  bool insecure = false;
  // Another build's directory: run its saga_throughput and this one
  // alternately, `pairs` times, and set their figures side by side.
  std::string compare;
  int pairs = 3;
};

// The platform under measurement, once started: a run that fails stops it
// too, or its services would go on running (and loading the machine).
sagactl::Platform* running = nullptr;

// StopPlatform stops the services, newest first, then the database.
void StopPlatform(sagactl::Platform& platform) {
  const auto& services = platform::Services();
  for (auto it = services.rbegin(); it != services.rend(); ++it) {
    (void)platform.StopService(*it, /*hard=*/false);
  }
  (void)platform.StopDatabase();
}

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::cerr << "saga_throughput: " << what << ": " << s << "\n";
  if (running != nullptr) {
    std::cerr << "stopping the platform; its directory stays for a look\n";
    StopPlatform(*running);
  }
  std::exit(1);
}

// Exec runs `sql` outside a transaction block (VACUUM needs that; a
// statement list still runs as one implicit transaction).
absl::Status Exec(const std::string& url, const std::string& sql) {
  db::PoolConfig config;
  config.url = url;
  config.size = 1;
  auto pool = db::Pool::Create(config);
  if (!pool.ok()) return pool.status();
  return (*pool)->Autocommit("bench", [&](pqxx::nontransaction& tx) {
    tx.exec(sql);
    return absl::OkStatus();
  });
}

template <typename... Params>
absl::StatusOr<pqxx::result> Query(const std::string& url,
                                   const std::string& sql,
                                   const Params&... params) {
  db::PoolConfig config;
  config.url = url;
  config.size = 1;
  auto pool = db::Pool::Create(config);
  if (!pool.ok()) return pool.status();
  return (*pool)->TransactOr<pqxx::result>(
      "bench", [&](pqxx::work& tx) -> absl::StatusOr<pqxx::result> {
        return tx.exec_params(sql, params...);
      });
}

// A fresh cluster has no WAL segments to reuse: each one it fills, it
// creates and zero-fills (16 MB, then fsync) while every commit waits. A
// server that has run for a while reuses the segments its checkpoints let
// go. So, before measuring, this fills `segments` and checkpoints, leaving
// them ready: at least as many as the saturation phase fills.
void RecycleWal(const sagactl::Platform& platform, int segments) {
  // One statement list on one connection. Each switch needs a record written
  // since the last one, or it does nothing: the row inserted before it (in
  // a table that is WAL-logged, so not a temporary one).
  absl::Status s =
      Exec(platform.cluster().Url("postgres"),
           absl::StrCat("CREATE TABLE bench_wal (n int); "
                        "DO $$ BEGIN FOR i IN 1..",
                        segments,
                        " LOOP INSERT INTO bench_wal VALUES (i); "
                        "PERFORM pg_switch_wal(); END LOOP; END $$; "
                        "DROP TABLE bench_wal"));
  if (s.ok()) s = Exec(platform.cluster().Url("postgres"), "CHECKPOINT");
  if (!s.ok()) Die("recycle WAL", s);
}

// Pays what the saturation burst left to do (vacuuming its dead rows,
// writing back its pages) before the half-load phase, so that phase measures
// steady running, not the clean-up after a burst three times its rate.
void Settle(const sagactl::Platform& platform) {
  for (const platform::ServiceInfo& service : platform::Services()) {
    absl::Status s =
        Exec(DatabaseUrl(platform, service.id), "VACUUM (ANALYZE)");
    if (!s.ok()) Die(absl::StrCat("vacuum ", service.database), s);
  }
  // A checkpoint, as a server that has run for a while has had: it turns
  // the burst's WAL segments into ready files for the WAL to come. Without
  // one, each new 16 MB segment is created and zero-filled while every
  // commit waits, and the sagas caught in that wait would be the phase's
  // tail.
  absl::Status s = Exec(platform.cluster().Url("postgres"), "CHECKPOINT");
  if (!s.ok()) Die("checkpoint", s);
  // And the burst's writes still in the page cache go to disk now, rather
  // than when the kernel's writeback gets to them (half a minute later, in
  // the middle of the next phase, stalling every commit's WAL flush).
  sync();
}

// Bench data spread over many rows, as real traffic is: one hot account or
// SKU would measure that row's lock, not the platform.
void Seed(const sagactl::Platform& platform) {
  auto r = Query(DatabaseUrl(platform, Service::kPayment),
                 "INSERT INTO accounts (customer_id, balance_cents) "
                 "SELECT 'bench-' || i, 1000000000000 "
                 "FROM generate_series(0, $1::int) i ON CONFLICT DO NOTHING",
                 kCustomers - 1);
  if (!r.ok()) Die("seed accounts", r.status());
  r = Query(DatabaseUrl(platform, Service::kInventory),
            "INSERT INTO stock (sku, price_cents, available) "
            "SELECT 'bench-' || i, 100, 1000000000 "
            "FROM generate_series(0, $1::int) i ON CONFLICT DO NOTHING",
            kSkus - 1);
  if (!r.ok()) Die("seed stock", r.status());
}

// Commits: pg_stat_database's commit count of every database, and the rows
// each has inserted, updated and deleted, by name.
struct Commits {
  std::map<std::string, int64_t> by_database;
  std::map<std::string, int64_t> rows_by_database;
  int64_t total() const {
    int64_t n = 0;
    for (const auto& [name, commits] : by_database) n += commits;
    return n;
  }
};

Commits ReadCommits(const sagactl::Platform& platform) {
  auto r = Query(platform.cluster().Url("postgres"),
                 "SELECT coalesce(datname, ''), xact_commit::bigint, "
                 "(tup_inserted + tup_updated + tup_deleted)::bigint "
                 "FROM pg_stat_database");
  if (!r.ok()) Die("read commit count", r.status());
  Commits out;
  for (const auto& row : *r) {
    out.by_database[row[0].as<std::string>()] = row[1].as<int64_t>();
    out.rows_by_database[row[0].as<std::string>()] = row[2].as<int64_t>();
  }
  return out;
}

// CommitsByService: each service database's commits per saga between two
// readings, and the rows it wrote per saga, in the registry's order
// ("orchestrator 2.00 (9.0 rows), ..."), so each service's part of the
// total can be accounted for.
std::string CommitsByService(const Commits& before, const Commits& after,
                             int64_t sagas) {
  std::vector<std::string> parts;
  for (const platform::ServiceInfo& service : platform::Services()) {
    auto get = [&](const std::map<std::string, int64_t>& m) -> int64_t {
      auto it = m.find(service.database);
      return it == m.end() ? 0 : it->second;
    };
    const double per_saga = 1.0 / std::max<int64_t>(sagas, 1);
    parts.push_back(absl::StrFormat(
        "%s %.2f (%.1f rows)", service.name,
        (get(after.by_database) - get(before.by_database)) * per_saga,
        (get(after.rows_by_database) - get(before.rows_by_database)) *
            per_saga));
  }
  return absl::StrCat("    by database: ", absl::StrJoin(parts, ", "), "\n");
}

// NextXid: the cluster's next transaction id. Only a transaction that writes
// takes one, so the difference of two readings counts the writing commits
// (those that flush the WAL) among all of ReadCommits' total.
int64_t NextXid(const sagactl::Platform& platform) {
  auto r =
      Query(platform.cluster().Url("postgres"),
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint");
  if (!r.ok()) Die("read the next transaction id", r.status());
  return (*r)[0][0].as<int64_t>();
}

// The n-th bench order: customers and SKUs spread over the seeded rows.
v1::CreateOrderRequest BenchOrder(uint64_t n) {
  v1::CreateOrderRequest r;
  r.set_customer_id(absl::StrCat("bench-", n % kCustomers));
  v1::OrderItem* item = r.add_items();
  item->set_sku(absl::StrCat("bench-", (n / kCustomers + n) % kSkus));
  item->set_quantity(1);
  v1::Address* a = r.mutable_shipping_address();
  a->set_name("Bench");
  a->set_line1("1 Load Street");
  a->set_city("Berlin");
  a->set_postal_code("10115");
  a->set_country("DE");
  return r;
}

// Waits until no order is pending; false after `limit`.
bool AwaitDrained(const sagactl::Platform& platform, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    auto r = Query(DatabaseUrl(platform, Service::kOrder),
                   "SELECT count(*) FROM orders WHERE status = 'pending'");
    if (r.ok() && (*r)[0][0].as<int64_t>() == 0) return true;
    // The count scans the orders table (several milliseconds of the
    // database's CPU); the phases are timed from the orders' own timestamps,
    // so polling more often would only add to what is measured.
    absl::SleepFor(absl::Seconds(1));
  }
  return false;
}

struct PhaseResult {
  int64_t orders = 0;
  int64_t approved = 0;
  double seconds = 0;  // first order accepted to last saga final
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

// Reads the orders accepted since `since` (database clock).
PhaseResult Summarize(const sagactl::Platform& platform,
                      const std::string& since) {
  auto r = Query(
      DatabaseUrl(platform, Service::kOrder),
      "SELECT count(*), count(*) FILTER (WHERE status = 'approved'), "
      "coalesce(extract(epoch FROM max(updated_at) - min(created_at)), 0),"
      "coalesce(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN "
      "  GROUP (ORDER BY updated_at - created_at)), 0), "
      "coalesce(1000 * extract(epoch FROM percentile_cont(0.9) WITHIN "
      "  GROUP (ORDER BY updated_at - created_at)), 0), "
      "coalesce(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN "
      "  GROUP (ORDER BY updated_at - created_at)), 0) "
      "FROM orders WHERE created_at > $1::timestamptz",
      since);
  if (!r.ok()) Die("summarize", r.status());
  const pqxx::row row = (*r)[0];
  PhaseResult p;
  p.orders = row[0].as<int64_t>();
  p.approved = row[1].as<int64_t>();
  p.seconds = row[2].as<double>();
  p.p50_ms = row[3].as<double>();
  p.p90_ms = row[4].as<double>();
  p.p99_ms = row[5].as<double>();
  return p;
}

// When the slowest 1% of the sagas accepted since `since` started (those
// that took `p99_ms`, Summarize's p99, or longer), grouped into bursts
// (starts less than 100 ms apart). A tail spread over the phase is
// queueing; one gathered in a few bursts is something that stalled them all
// at once, to be found by its times.
std::string TailBursts(const sagactl::Platform& platform,
                       const std::string& since, double p99_ms) {
  auto r = Query(
      DatabaseUrl(platform, Service::kOrder),
      "SELECT extract(epoch FROM created_at - $1::timestamptz) FROM orders "
      "WHERE created_at > $1::timestamptz AND updated_at - created_at >= "
      "$2::float8 * interval '1 millisecond' ORDER BY created_at",
      since, p99_ms);
  if (!r.ok()) Die("tail", r.status());
  std::vector<std::pair<double, int>> bursts;  // first start, sagas
  double last = -1;
  for (const auto& row : *r) {
    const double at = row[0].as<double>();
    if (bursts.empty() || at - last >= 0.1) bursts.emplace_back(at, 0);
    ++bursts.back().second;
    last = at;
  }
  std::string out =
      absl::StrFormat("  the slowest 1%% (%d sagas) started in %d bursts, at",
                      r->size(), bursts.size());
  for (const auto& [at, sagas] : bursts) {
    absl::StrAppend(&out, absl::StrFormat(" %.2f s (%d)", at, sagas));
  }
  return absl::StrCat(out, "\n    (seconds after ", since, ")\n");
}

// A counter from a service's /metrics; 0 when the page does not have it
// (yet), -1 when there is no page.
double Counter(const sagactl::Platform& platform, Service service,
               absl::string_view series) {
  absl::StatusOr<std::string> page =
      platform.MetricsPage(platform::Info(service));
  if (!page.ok()) return -1;
  return metrics::SampleValue(*page, series).value_or(0);
}

std::string DatabaseNow(const sagactl::Platform& platform) {
  auto r = Query(DatabaseUrl(platform, Service::kOrder), "SELECT now()::text");
  if (!r.ok()) Die("read clock", r.status());
  return (*r)[0][0].as<std::string>();
}

// Runs `clients` callers placing bench orders until `until` (see
// sagactl::DriveOrders); counts the calls that failed into `failed`, and
// keeps the first one's error.
void Drive(sagactl::Platform& platform, int clients, absl::Time until,
           absl::Duration interval, std::atomic<uint64_t>& next_key,
           sagactl::DriveResult& failed) {
  sagactl::DriveResult r = sagactl::DriveOrders(
      platform.Address(platform::Info(Service::kOrder)), clients, until,
      interval, next_key, "bench-", BenchOrder,
      [&](const std::string& customer) { return platform.Bearer(customer); },
      /*keep_ids=*/false);
  if (failed.failed == 0) failed.first_error = r.first_error;
  failed.failed += r.failed;
}

// ProcStat: a process's name and the CPU seconds it has used (all its
// threads), from /proc/<pid>/stat; false when it is gone.
bool ProcStat(const std::string& pid, std::string* name, double* seconds) {
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The name is in parentheses and may hold spaces and parentheses itself:
  // it ends at the last ')'. State is the first field after it, utime and
  // stime the 12th and 13th.
  const size_t open = stat.find('(');
  const size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return false;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  if (fields.size() < 13) return false;
  *name = stat.substr(open + 1, close - open - 1);
  *seconds = (std::strtod(fields[11].c_str(), nullptr) +
              std::strtod(fields[12].c_str(), nullptr)) /
             tick;
  return true;
}

// A process's command line up to its first NUL: a PostgreSQL process's
// title ("postgres: <role> <database> ..." for a backend).
std::string Title(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/cmdline");
  std::string title;
  std::getline(in, title, '\0');
  return title;
}

// What a CPU reading holds: the platform's parts (each service process,
// and the PostgreSQL backends of each database, summed) and, apart, every
// other process on the machine by name, kernel threads included. The
// platform's parts are where a saga's CPU goes; the others take cores the
// sagas then wait for, which shows in their latency.
struct CpuReading {
  absl::Time at;
  std::map<std::string, double> platform, outside;
};

CpuReading ReadCpu(const std::map<std::string, pid_t>& services) {
  CpuReading out;
  out.at = absl::Now();
  std::map<std::string, std::string> service_of;  // by pid
  for (const auto& [name, pid] : services) service_of[absl::StrCat(pid)] = name;
  const std::string self = absl::StrCat(getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) {
      continue;
    }
    std::string name;
    double seconds = 0;
    if (!ProcStat(pid, &name, &seconds)) continue;
    if (auto service = service_of.find(pid); service != service_of.end()) {
      out.platform[service->second] = seconds;
      continue;
    }
    const std::string title = Title(pid);
    // A backend of one of the platform's roles (each service's, or the
    // superuser's): "postgres: sagaworks_payment payments [local] idle".
    if (absl::StartsWith(title, "postgres: sagaworks")) {
      const std::vector<std::string> words =
          absl::StrSplit(title, ' ', absl::SkipEmpty());
      if (words.size() >= 3) {
        out.platform[absl::StrCat("db ", words[2])] += seconds;
        continue;
      }
    }
    if (pid == self) {
      name = "benchmark callers";
    } else if (absl::StartsWith(title, "postgres: ")) {
      // The WAL writer, checkpointer, autovacuum: the database's own work.
      name = "postgres (background)";
    } else if (absl::StartsWith(name, "kworker/")) {
      name = "kworker";  // many, renamed as they take other work
    }
    out.outside[name] += seconds;
  }
  return out;
}

// Used: what each name used between two readings, most first.
std::vector<std::pair<double, std::string>> Used(
    const std::map<std::string, double>& before,
    const std::map<std::string, double>& after, double* total) {
  std::vector<std::pair<double, std::string>> used;
  *total = 0;
  for (const auto& [name, seconds] : after) {
    auto it = before.find(name);
    // A process started since counts whole: it ran within the phase.
    const double d = seconds - (it == before.end() ? 0 : it->second);
    if (d <= 0) continue;
    used.emplace_back(d, name);
    *total += d;
  }
  std::sort(used.rbegin(), used.rend());
  return used;
}

// CpuShares writes each platform part's share of the CPU used between two
// readings, then what the rest of the machine used meanwhile.
std::string CpuShares(const CpuReading& before, const CpuReading& after,
                      int64_t sagas) {
  double total = 0;
  const auto used = Used(before.platform, after.platform, &total);
  std::string out = absl::StrFormat("  %.2f ms of CPU per saga in all\n",
                                    1000 * total / std::max<int64_t>(sagas, 1));
  for (const auto& [seconds, name] : used) {
    absl::StrAppend(&out, absl::StrFormat("  %-16s %5.1f%%  %6.1f s\n", name,
                                          100 * seconds / total, seconds));
  }
  double others = 0;
  const auto outside = Used(before.outside, after.outside, &others);
  const double wall = absl::ToDoubleSeconds(after.at - before.at);
  absl::StrAppend(
      &out, absl::StrFormat("  outside the platform meanwhile: %.2f cores on "
                            "average over %.1f s (the platform: %.2f)\n   ",
                            others / std::max(wall, 1e-9), wall,
                            total / std::max(wall, 1e-9)));
  int listed = 0;
  for (const auto& [seconds, name] : outside) {
    if (listed == 6 || seconds < 0.01) break;
    absl::StrAppend(&out, listed++ == 0 ? " " : ", ", name,
                    absl::StrFormat(" %.2f s", seconds));
  }
  absl::StrAppend(&out, "\n");
  return out;
}

// PlatformSeconds: the CPU the platform's parts used between two readings.
double PlatformSeconds(const CpuReading& before, const CpuReading& after) {
  double total = 0;
  (void)Used(before.platform, after.platform, &total);
  return total;
}

void ResetStatements(const sagactl::Platform& platform) {
  absl::Status s = Exec(platform.cluster().Url("postgres"),
                        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
                        "SELECT pg_stat_statements_reset()");
  if (!s.ok()) Die("pg_stat_statements", s);
}

// The statements that took the most database time in the phase just run,
// from pg_stat_statements: where a saga's database time goes.
std::string TopStatements(const sagactl::Platform& platform, int sagas) {
  auto r = Query(
      platform.cluster().Url("postgres"),
      "SELECT d.datname, s.calls, s.total_exec_time, "
      "  100 * s.total_exec_time / sum(s.total_exec_time) OVER (), "
      "  s.total_plan_time, "
      "  left(regexp_replace(s.query, '\\s+', ' ', 'g'), 60) "
      "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
      "WHERE d.datname <> 'postgres' ORDER BY s.total_exec_time DESC LIMIT 15");
  if (!r.ok()) Die("read pg_stat_statements", r.status());
  std::string out =
      "  database      calls/saga  us/call  plan us  share  statement\n";
  for (const auto& row : *r) {
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "  %-13s %10.2f %8.0f %8.0f %5.1f%%  %s\n",
            row[0].as<std::string>(), row[1].as<double>() / std::max(sagas, 1),
            1000 * row[2].as<double>() / std::max(row[1].as<double>(), 1.0),
            1000 * row[4].as<double>() / std::max(row[1].as<double>(), 1.0),
            row[3].as<double>(), row[5].as<std::string>()));
  }
  return out;
}

double PgbenchRate(const sagactl::Platform& platform, const Options& options,
                   const std::string& dir) {
  absl::Status s = platform.cluster().CreateDatabase("pgbench");
  if (!s.ok()) Die("create pgbench database", s);
  s = Exec(platform.cluster().Url("pgbench"),
           "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, "
           "v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())");
  if (!s.ok()) Die("create pgbench table", s);
  const std::string script = dir + "/insert.sql";
  std::ofstream(script) << "INSERT INTO bench_rows (v) VALUES (1);\n";
  chmod(script.c_str(), 0644);
  std::vector<std::string> argv = {
      "/usr/lib/postgresql/15/bin/pgbench",
      "-n",
      "-c",
      absl::StrCat(options.clients),
      "-j",
      "2",
      "-T",
      absl::StrCat(static_cast<int>(options.seconds)),
      "-f",
      script,
      platform.cluster().Url("pgbench")};
  std::string out;
  s = local::Run(argv, &out);
  if (!s.ok()) Die("pgbench", s);
  const std::string marker = "tps = ";
  const size_t at = out.find(marker);
  if (at == std::string::npos) {
    Die("pgbench", absl::InternalError(absl::StrCat("no tps in: ", out)));
  }
  return std::strtod(out.c_str() + at + marker.size(), nullptr);
}

// What a chain of commits shows of the machine itself. A saga's latency
// is a chain of durable commits and calls; its tail is made both by the
// platform (queueing behind its own threads) and by the machine (a core
// taken or slowed from outside). The chains below are the simplest workload
// with the same shape and cost as the half-load phase: as many autocommitted
// one-row inserts in a row as a saga's writing commits, each burning enough
// CPU in its backend that a chain costs what a saga did, started at the same
// pace on the same cluster. Their p99/p50 is what this machine gives such a
// load with no platform in the way.
struct ChainResult {
  int64_t chains = 0;
  int steps = 0;
  double cpu_ms = 0;  // per chain: its backends and its callers
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

class CommitChains {
 public:
  CommitChains(const sagactl::Platform& platform, int threads)
      : platform_(platform), threads_(threads) {}

  // Run starts `steps`-commit chains at `rate` per second for `seconds`
  // after `warm_up` at that pace, each step burning `rows` rows.
  ChainResult Run(double rate, absl::Duration warm_up, double seconds,
                  int steps, int64_t rows) {
    const absl::Duration interval = absl::Seconds(1.0 / rate);
    Pace(absl::Now() + warm_up, interval, steps, rows);
    latencies_.clear();
    const double before = CpuSeconds();
    Pace(absl::Now() + absl::Seconds(seconds), interval, steps, rows);
    ChainResult r;
    r.steps = steps;
    r.chains = static_cast<int64_t>(latencies_.size());
    r.cpu_ms = 1000 * (CpuSeconds() - before) / std::max<int64_t>(r.chains, 1);
    std::sort(latencies_.begin(), latencies_.end());
    r.p50_ms = sagactl::Percentile(latencies_, 0.5);
    r.p90_ms = sagactl::Percentile(latencies_, 0.9);
    r.p99_ms = sagactl::Percentile(latencies_, 0.99);
    return r;
  }

  // NanosPerRow: the backend's cost of one burnt row, from the fastest of
  // a few statements of a million rows each, alone on the cluster.
  double NanosPerRow() {
    pqxx::connection& c = Connection(0);
    double best = 1e18;
    for (int i = 0; i < 3; ++i) {
      const absl::Time start = absl::Now();
      pqxx::nontransaction tx(c);
      tx.exec_prepared("step", int64_t{1000000});
      best = std::min(best, absl::ToDoubleNanoseconds(absl::Now() - start));
    }
    return best / 1e6;
  }

 private:
  // Connection: the i-th caller's connection, kept from one Pace to the
  // next so that its backend's CPU is read from the same process before and
  // after a phase (and no phase pays for connecting).
  pqxx::connection& Connection(int i) {
    while (static_cast<int>(connections_.size()) <= i) {
      connections_.push_back(std::make_unique<pqxx::connection>(
          platform_.cluster().Url("chains")));
      Prepare(*connections_.back());
      pqxx::nontransaction tx(*connections_.back());
      backends_.push_back(tx.exec("SELECT pg_backend_pid()")[0][0].as<int>());
    }
    return *connections_[i];
  }

  // CpuSeconds: the CPU the chains' backends and this process have used,
  // to the nanosecond (the runs that set the burn are short: the clock
  // ticks of /proc/<pid>/stat would be a tenth of what they measure).
  double CpuSeconds() const {
    double total = 0;
    for (int pid : backends_) {
      // schedstat: time on a CPU (ns), time waiting for one, time slices.
      std::ifstream in(absl::StrCat("/proc/", pid, "/schedstat"));
      double ns = 0;
      if (in >> ns) total += ns / 1e9;
    }
    timespec self{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &self);
    return total + static_cast<double>(self.tv_sec) +
           static_cast<double>(self.tv_nsec) / 1e9;
  }

  static void Prepare(pqxx::connection& c) {
    c.prepare("step",
              "INSERT INTO chain_rows (v) "
              "SELECT count(*) FROM generate_series(1, $1::bigint)");
  }

  // Pace starts a chain every `interval` until `until` and waits for them
  // all. Each chain has its own slot in time, as DriveOrders' orders do,
  // and its latency runs from that slot: one that waits for a free
  // connection counts the wait, as an order waits for the platform.
  void Pace(absl::Time until, absl::Duration interval, int steps,
            int64_t rows) {
    for (int i = 0; i < threads_; ++i) Connection(i);
    const absl::Time start = absl::Now();
    std::atomic<int64_t> slot{0};
    absl::Mutex mu;
    std::string error;  // the first chain's failure, if any
    std::vector<std::thread> threads;
    for (int i = 0; i < threads_; ++i) {
      threads.emplace_back([&, &c = Connection(i)] {
        while (true) {
          const absl::Time due = start + slot.fetch_add(1) * interval;
          if (due >= until) return;
          absl::SleepFor(due - absl::Now());
          try {
            for (int s = 0; s < steps; ++s) {
              pqxx::nontransaction tx(c);
              tx.exec_prepared("step", rows);
            }
          } catch (const std::exception& e) {
            absl::MutexLock lock(&mu);
            if (error.empty()) error = e.what();
            continue;
          }
          const double ms = absl::ToDoubleMilliseconds(absl::Now() - due);
          absl::MutexLock lock(&mu);
          latencies_.push_back(ms);
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!error.empty()) throw std::runtime_error(error);
  }

  const sagactl::Platform& platform_;
  const int threads_;
  std::vector<std::unique_ptr<pqxx::connection>> connections_;
  std::vector<int> backends_;  // their backends' pids
  std::vector<double> latencies_;
};

struct MachineTail {
  ChainResult bare, matched;
};

// MatchNote flags matched chains whose CPU missed a saga's by more than a
// tenth (the machine's speed changed between the runs that set the burn and
// the measured one): at this load, a tenth more CPU queues far more.
std::string MatchNote(double chain_cpu_ms, double saga_cpu_ms) {
  const double off = chain_cpu_ms / std::max(saga_cpu_ms, 1e-9) - 1;
  if (std::abs(off) <= 0.1) return "";
  return absl::StrFormat(" (CPU %+.0f%% off a saga's: not comparable)",
                         100 * off);
}

// MachineChains runs commit chains of `steps` commits at `rate`: first
// with (nearly) nothing burnt, the commits alone; then burning enough that
// a chain's CPU comes near `saga_cpu_ms`.
MachineTail MachineChains(const sagactl::Platform& platform, double rate,
                          double seconds, int steps, double saga_cpu_ms) {
  absl::Status s = platform.cluster().CreateDatabase("chains");
  if (s.ok()) {
    s = Exec(platform.cluster().Url("chains"),
             "CREATE TABLE IF NOT EXISTS chain_rows (id bigserial PRIMARY "
             "KEY, v bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())");
  }
  if (!s.ok()) Die("create the chains' table", s);
  // Far more callers than chains in flight at these paces (one or two), so
  // a chain waits for a connection only while the machine stalls, as the
  // orders wait for the platform's threads then.
  CommitChains chains(platform, /*threads=*/32);
  MachineTail out;
  try {
    out.bare = chains.Run(rate, kHalfLoadWarmUp, seconds, steps, /*rows=*/1);
    // The cost of a row burnt alone is a first guess only: at the pace the
    // backends share the cores and their caches, and the machine's speed
    // drifts. Short runs at the pace correct it, each from the last.
    const double burn_ms = std::max(0.0, saga_cpu_ms - out.bare.cpu_ms);
    double rows = std::max(1.0, burn_ms / steps * 1e6 / chains.NanosPerRow());
    for (int i = 0; i < 3; ++i) {
      const ChainResult r = chains.Run(rate, absl::ZeroDuration(), 1.5, steps,
                                       static_cast<int64_t>(rows));
      const double burnt = r.cpu_ms - out.bare.cpu_ms;
      if (burnt > 0) rows = std::max(1.0, rows * burn_ms / burnt);
    }
    out.matched = chains.Run(rate, absl::Seconds(1), seconds, steps,
                             static_cast<int64_t>(rows));
  } catch (const std::exception& e) {
    Die("commit chains", absl::InternalError(e.what()));
  }
  return out;
}

// RunArgs: the command line that makes another run with these options (only
// flags every build of the benchmark knows).
std::vector<std::string> RunArgs(const std::string& binary,
                                 const Options& options) {
  std::vector<std::string> argv = {binary,
                                   absl::StrCat("--seconds=", options.seconds),
                                   absl::StrCat("--clients=", options.clients),
                                   absl::StrCat("--workers=", options.workers)};
  if (options.half_rate > 0) {
    argv.push_back(absl::StrCat("--half-rate=", options.half_rate));
  }
  if (options.insecure) argv.push_back("--insecure");
  for (const std::string& setting : options.db_settings) {
    argv.push_back(absl::StrCat("--db-setting=", setting));
  }
  return argv;
}

// Compare runs the other build's benchmark and this one alternately (which
// goes first alternates too, so a machine drifting one way favours
// neither), then prints their figures side by side.
int Compare(const Options& options) {
  const std::string other =
      absl::StrCat(options.compare, "/bin/saga_throughput");
  const std::string self =
      absl::StrCat(local::ExecutableDir(), "/saga_throughput");
  if (access(other.c_str(), X_OK) != 0) {
    std::cerr << "saga_throughput: --compare: no " << other
              << " (build it there: cmake --build " << options.compare
              << " --target saga_throughput order-service payment-service "
                 "inventory-service shipping-service saga-orchestrator)\n";
    return 2;
  }
  std::vector<bench::RunFigures> theirs, ours;
  for (int pair = 1; pair <= options.pairs; ++pair) {
    const bool other_first = pair % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      const bool is_other = (k == 0) == other_first;
      const std::string& binary = is_other ? other : self;
      std::string out;
      const absl::Status s = local::Run(RunArgs(binary, options), &out);
      absl::StatusOr<bench::RunFigures> f =
          s.ok() ? bench::ParseRunFigures(out)
                 : absl::StatusOr<bench::RunFigures>(s);
      if (!f.ok()) {
        std::cerr << "saga_throughput: " << binary << ": "
                  << f.status().message() << "\n"
                  << out.substr(out.size() > 4000 ? out.size() - 4000 : 0)
                  << "\n";
        return 1;
      }
      (is_other ? theirs : ours).push_back(*f);
      std::cout << absl::StrFormat(
                       "pair %d, %s build: %.1f sagas/s, %.2f / %.2f ms of "
                       "CPU per saga (saturation / half load), pgbench %.0f "
                       "tps",
                       pair, is_other ? "other" : "this", f->sagas_per_second,
                       f->cpu_ms_saturation, f->cpu_ms_half, f->pgbench_tps)
                << std::endl;
    }
  }
  std::error_code ignored;
  std::cout
      << "\nother build: "
      << std::filesystem::weakly_canonical(options.compare, ignored).string()
      << "\nthis build:  "
      << std::filesystem::weakly_canonical(
             std::filesystem::path(local::ExecutableDir()) / "..", ignored)
             .string()
      << "\n\n"
      << bench::CompareTable(theirs, ours);
  return 0;
}

int Main(int argc, char** argv) {
  Options options;
  CLI::App app(
      "Completed sagas per second on the local platform, next to "
      "pgbench's single-row insert rate on the same PostgreSQL.");
  app.add_option("--seconds", options.seconds, "length of each phase")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  app.add_option("--clients", options.clients,
                 "concurrent callers (and pgbench clients)")
      ->check(CLI::Range(1, 150))
      ->capture_default_str();
  app.add_option("--workers", options.workers,
                 "sagas the orchestrator drives at once (its --max-in-flight)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--db-setting", options.db_settings,
                 "a PostgreSQL setting for the benchmark's cluster, as "
                 "name=value (repeatable; e.g. log_min_duration_statement=20)")
      ->check([](const std::string& setting) -> std::string {
        const size_t eq = setting.find('=');
        // The value goes to the server's command line: no spaces in it.
        if (eq == 0 || eq == std::string::npos ||
            setting.find(' ') != std::string::npos) {
          return "wants name=value without spaces, not '" + setting + "'";
        }
        return "";
      });
  app.add_flag("--insecure", options.insecure,
               "run the platform plaintext (--insecure), to set the cost of "
               "mutual TLS beside a default run");
  app.add_flag("--keep", options.keep,
               "leave the platform's directory (logs) behind");
  app.add_flag("--statements", options.statements,
               "also print the statements that took the most database time "
               "at saturation (loads pg_stat_statements)");
  app.add_option("--half-rate", options.half_rate,
                 "orders/s in the paced phase instead of half the saturation "
                 "rate (to compare builds at one rate)")
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--compare", options.compare,
                 "another build directory: run its saga_throughput and this "
                 "one alternately and print both side by side, with ratios")
      ->check(CLI::ExistingDirectory);
  app.add_option("--pairs", options.pairs, "alternating pairs with --compare")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!options.compare.empty()) return Compare(options);

  char tmpl[] = "/tmp/sagaworks-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp", absl::InternalError("failed"));
  const std::string home = tmpl;
  chmod(home.c_str(), 0755);  // the postgres user must reach its data
  sagactl::PlatformOptions po;
  po.home = home;
  po.bin_dir = local::ExecutableDir();
  po.insecure = options.insecure;
  po.durable_db = true;  // fsync and synchronous_commit on: the real cost
  if (options.statements) {
    po.db_settings = {"shared_preload_libraries=pg_stat_statements",
                      "pg_stat_statements.track_planning=on"};
  }
  po.db_settings.insert(po.db_settings.end(), options.db_settings.begin(),
                        options.db_settings.end());
  auto port = local::FreePort();
  if (!port.ok()) Die("free port", port.status());
  po.pg_port = *port;
  for (const auto& spec : platform::Services()) {
    port = local::FreePort();
    if (!port.ok()) Die("free port", port.status());
    po.ports[spec.name] = *port;
    port = local::FreePort();
    if (!port.ok()) Die("free port", port.status());
    po.http_ports[spec.name] = *port;
  }
  for (const platform::ServiceInfo& service : platform::Services()) {
    po.extra_args[service.name] = {"--db-pool-size=16"};
  }
  po.extra_args[platform::Info(Service::kOrchestrator).name] = {
      absl::StrCat("--max-in-flight=", options.workers), "--db-pool-size=16"};
  sagactl::Platform platform(po);
  running = &platform;
  std::cout << "starting the platform under " << home
            << (po.insecure ? " (plaintext, --insecure)" : " (mutual TLS)")
            << " ...\n";
  if (absl::Status s = platform.SetUpTls(); !s.ok()) Die("certificates", s);
  if (absl::Status s = platform.StartDatabase(); !s.ok()) Die("database", s);
  std::vector<const platform::ServiceInfo*> all;
  std::map<std::string, pid_t> pids;
  for (const auto& spec : platform::Services()) {
    auto pid = platform.StartService(spec);
    if (!pid.ok()) Die(spec.name, pid.status());
    pids[spec.name] = *pid;
    all.push_back(&spec);
  }
  if (absl::Status s = platform.WaitServing(all); !s.ok()) Die("start", s);
  Seed(platform);
  RecycleWal(platform, kWalSegments);
  std::atomic<uint64_t> next_key{0};

  // Warm-up: connections, caches, pools.
  sagactl::DriveResult warm_up;
  Drive(platform, options.clients, absl::Now() + absl::Seconds(2),
        absl::ZeroDuration(), next_key, warm_up);
  if (!AwaitDrained(platform, absl::Minutes(2))) {
    Die("warm-up", absl::DeadlineExceededError("sagas did not finish"));
  }

  // 1. Saturation.
  if (options.statements) ResetStatements(platform);
  const CpuReading cpu_before = ReadCpu(pids);
  const Commits commits_before = ReadCommits(platform);
  const int64_t xid_before = NextXid(platform);
  std::string since = DatabaseNow(platform);
  sagactl::DriveResult failed;
  Drive(platform, options.clients, absl::Now() + absl::Seconds(options.seconds),
        absl::ZeroDuration(), next_key, failed);
  if (!AwaitDrained(platform, absl::Minutes(5))) {
    Die("saturation", absl::DeadlineExceededError("sagas did not finish"));
  }
  const double refused = Counter(platform, Service::kOrchestrator,
                                 "sagaworks_saga_starts_refused_total");
  const Commits commits_after = ReadCommits(platform);
  const int64_t commits = commits_after.total() - commits_before.total();
  const int64_t writes = NextXid(platform) - xid_before;
  const CpuReading cpu_after = ReadCpu(pids);
  const PhaseResult full = Summarize(platform, since);
  const double rate = full.orders / std::max(full.seconds, 1e-9);
  const std::string cpu = CpuShares(cpu_before, cpu_after, full.orders);
  const std::string statements =
      options.statements ? TopStatements(platform, full.orders) : "";

  // 1b. Closed loop: each caller waits for its order to be final before it
  // places the next, as clients of engines that wait for a workflow's
  // result do.
  Settle(platform);
  const absl::Time closed_start = absl::Now();
  sagactl::DriveResult closed = sagactl::DriveOrders(
      platform.Address(platform::Info(Service::kOrder)), options.clients,
      closed_start + absl::Seconds(options.seconds), absl::ZeroDuration(),
      next_key, "bench-", BenchOrder,
      [&](const std::string& customer) { return platform.Bearer(customer); },
      /*keep_ids=*/false, /*await_final=*/true);
  const double closed_seconds =
      absl::ToDoubleSeconds(absl::Now() - closed_start);
  if (!AwaitDrained(platform, absl::Minutes(2))) {
    Die("closed loop", absl::DeadlineExceededError("sagas did not finish"));
  }
  std::sort(closed.final_ms.begin(), closed.final_ms.end());
  if (failed.failed == 0) failed.first_error = closed.first_error;
  failed.failed += closed.failed;

  // 2. Half load, paced. Its first seconds are not counted: they refill
  // what the long burst let go cold (the catalog cache, plans replanned
  // after the vacuum's fresh statistics, the callers' new connections).
  Settle(platform);
  const double half_rate = options.half_rate > 0 ? options.half_rate : rate / 2;
  const absl::Duration interval = absl::Seconds(1.0 / half_rate);
  Drive(platform, options.clients, absl::Now() + kHalfLoadWarmUp, interval,
        next_key, failed);
  if (options.statements) ResetStatements(platform);
  since = DatabaseNow(platform);
  const Commits half_commits_before = ReadCommits(platform);
  const int64_t half_xid_before = NextXid(platform);
  const CpuReading half_cpu_before = ReadCpu(pids);
  Drive(platform, options.clients, absl::Now() + absl::Seconds(options.seconds),
        interval, next_key, failed);
  if (!AwaitDrained(platform, absl::Minutes(5))) {
    Die("half load", absl::DeadlineExceededError("sagas did not finish"));
  }
  const CpuReading half_cpu_after = ReadCpu(pids);
  const Commits half_commits_after = ReadCommits(platform);
  const int64_t half_commits =
      half_commits_after.total() - half_commits_before.total();
  const int64_t half_writes = NextXid(platform) - half_xid_before;
  const PhaseResult half = Summarize(platform, since);
  const std::string tail = TailBursts(platform, since, half.p99_ms);
  const std::string half_cpu =
      CpuShares(half_cpu_before, half_cpu_after, half.orders);
  const double half_saga_cpu_ms =
      1000 * PlatformSeconds(half_cpu_before, half_cpu_after) /
      std::max<int64_t>(half.orders, 1);
  const double half_writes_per_saga =
      static_cast<double>(half_writes) / std::max<int64_t>(half.orders, 1);
  const std::string half_statements =
      options.statements ? TopStatements(platform, half.orders) : "";

  // 3. The machine on its own: chains of commits costing what a saga did at
  // half load, at the same pace, after the same settling. The burn per step
  // comes from the backend's cost per row and what a chain costs without
  // it, both measured here.
  Settle(platform);
  const MachineTail chains =
      MachineChains(platform, half_rate, options.seconds,
                    std::max(1, static_cast<int>(half_writes_per_saga + 0.5)),
                    half_saga_cpu_ms);

  // 4. The database on its own.
  const double pgbench = PgbenchRate(platform, options, home);

  const std::string first_failure =
      failed.failed > 0 ? absl::StrCat(" (first: ", failed.first_error, ")")
                        : "";
  std::cout << absl::StrFormat(
      "\nsaturation (%d clients, %d sagas in flight, %.0f s):\n"
      "  %d sagas (%d approved) in %.2f s: %.1f completed sagas/s\n"
      "  p50 %.1f ms, p99 %.1f ms (queueing included)\n"
      "  %.0f StartSaga calls refused with the orchestrator's backlog full "
      "(their orders waited in the outbox)\n"
      "  %.1f database commits per saga (all five databases), %.1f of them "
      "writes\n"
      "%s"
      "closed loop (%d clients, each waits for its order to end, %.0f s):\n"
      "  %d sagas: %.1f completed sagas/s, p50 %.1f ms, p99 %.1f ms\n"
      "half load (%.1f orders/s paced):\n"
      "  %d sagas: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, p99/p50 %.2f\n"
      "%s"
      "  %.1f database commits per saga, %.1f of them writes\n"
      "%s"
      "commit chains at the same pace, same cluster (the machine's own tail "
      "at this load):\n"
      "  %d chains of %d commits, %.2f ms of CPU each (a saga: %.2f ms): "
      "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, p99/p50 %.2f%s\n"
      "  the same commits alone, %.2f ms of CPU each: p50 %.1f ms, p90 %.1f "
      "ms, p99 %.1f ms, p99/p50 %.2f\n"
      "pgbench, same cluster, %d clients, single-row INSERT: %.0f tps\n"
      "  platform sagas/s / pgbench tps = %.3f; sagas/s x commits per saga / "
      "tps = %.2f\n"
      "failed CreateOrder calls: %d%s\n",
      options.clients, options.workers, options.seconds, full.orders,
      full.approved, full.seconds, rate, full.p50_ms, full.p99_ms, refused,
      static_cast<double>(commits) / std::max<int64_t>(full.orders, 1),
      static_cast<double>(writes) / std::max<int64_t>(full.orders, 1),
      CommitsByService(commits_before, commits_after, full.orders),
      options.clients, options.seconds,
      static_cast<int>(closed.final_ms.size()),
      closed.final_ms.size() / std::max(closed_seconds, 1e-9),
      sagactl::Percentile(closed.final_ms, 0.5),
      sagactl::Percentile(closed.final_ms, 0.99), half_rate, half.orders,
      half.p50_ms, half.p90_ms, half.p99_ms,
      half.p99_ms / std::max(half.p50_ms, 1e-9), tail,
      static_cast<double>(half_commits) / std::max<int64_t>(half.orders, 1),
      half_writes_per_saga,
      CommitsByService(half_commits_before, half_commits_after, half.orders),
      chains.matched.chains, chains.matched.steps, chains.matched.cpu_ms,
      half_saga_cpu_ms, chains.matched.p50_ms, chains.matched.p90_ms,
      chains.matched.p99_ms,
      chains.matched.p99_ms / std::max(chains.matched.p50_ms, 1e-9),
      MatchNote(chains.matched.cpu_ms, half_saga_cpu_ms), chains.bare.cpu_ms,
      chains.bare.p50_ms, chains.bare.p90_ms, chains.bare.p99_ms,
      chains.bare.p99_ms / std::max(chains.bare.p50_ms, 1e-9), options.clients,
      pgbench, rate / pgbench,
      rate * commits / std::max<int64_t>(full.orders, 1) / pgbench,
      static_cast<int>(failed.failed), first_failure.c_str());
  std::cout << "CPU at saturation, by process (PostgreSQL by database):\n"
            << cpu;
  // Far less is batched at half the rate (smaller commit groups, a thread
  // woken for each call), so a saga costs more there.
  std::cout << "CPU at half load, by process:\n" << half_cpu;
  if (options.statements) {
    std::cout << "database time at saturation, by statement:\n"
              << statements << "database time at half load, by statement:\n"
              << half_statements;
  }

  StopPlatform(platform);
  running = nullptr;
  if (!options.keep) {
    std::error_code ignored;
    std::filesystem::remove_all(home, ignored);
  } else {
    std::cout << "logs: " << platform.state_dir() << "/logs\n";
  }
  return 0;
}

}  // namespace
}  // namespace sagaworks

int main(int argc, char** argv) { return sagaworks::Main(argc, argv); }
