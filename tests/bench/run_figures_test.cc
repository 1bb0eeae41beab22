// ParseRunFigures against the lines saga_throughput prints, and the table
// --compare makes of two builds' runs.
#include "bench/run_figures.h"

#include "gtest/gtest.h"

namespace sagaworks::bench {
namespace {

// One run's output as saga_throughput prints it (abridged: the per-process
// tables keep only their first line).
constexpr char kRun[] = R"(starting the platform under /tmp/x (mutual TLS) ...

saturation (32 clients, orchestrator 64 workers, 10 s):
  13715 sagas (13715 approved) in 27.01 s: 507.8 completed sagas/s
  p50 5636.8 ms, p99 7061.8 ms (queueing included)
  0 StartSaga calls refused with the orchestrator's backlog full (their orders waited in the outbox)
  6.3 database commits per saga (all five databases), 6.2 of them writes
closed loop (32 clients, each waits for its order to end, 10 s):
  4210 sagas: 421.0 completed sagas/s, p50 70.1 ms, p99 120.4 ms
half load (253.9 orders/s paced):
  2539 sagas: p50 12.3 ms, p90 20.1 ms, p99 37.8 ms, p99/p50 3.06
  the slowest 1% (26 sagas) started in 1 bursts, at 0.17 s (26)
  9.9 database commits per saga, 9.1 of them writes
commit chains at the same pace, same cluster (the machine's own tail at this load):
  2539 chains of 9 commits, 8.19 ms of CPU each (a saga: 5.90 ms): p50 11.2 ms, p90 22.4 ms, p99 39.2 ms, p99/p50 3.50 (CPU +39% off a saga's: not comparable)
  the same commits alone, 1.05 ms of CPU each: p50 1.7 ms, p90 2.8 ms, p99 5.6 ms, p99/p50 3.27
pgbench, same cluster, 32 clients, single-row INSERT: 25997 tps
  platform sagas/s / pgbench tps = 0.020; sagas/s x commits per saga / tps = 0.12
failed CreateOrder calls: 2 (first: UNAVAILABLE: x)
CPU at saturation, by process (PostgreSQL by database):
  3.55 ms of CPU per saga in all
  db orchestrator   17.4%     5.1 s
  orchestrator      20.0%     5.9 s
  db orders         13.0%     3.8 s
  order             10.0%     2.9 s
  payment            5.0%     1.5 s
CPU at half load, by process:
  5.90 ms of CPU per saga in all
  orchestrator      25.0%     2.8 s
  order             20.0%     2.2 s
)";

TEST(RunFiguresTest, ReadsEveryHeadlineFigure) {
  absl::StatusOr<RunFigures> f = ParseRunFigures(kRun);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_DOUBLE_EQ(f->sagas_per_second, 507.8);
  EXPECT_DOUBLE_EQ(f->closed_loop_sagas_per_second, 421.0);
  EXPECT_DOUBLE_EQ(f->commits_saturation, 6.3);
  EXPECT_DOUBLE_EQ(f->commits_half, 9.9);
  EXPECT_DOUBLE_EQ(f->half_p50_ms, 12.3);
  EXPECT_DOUBLE_EQ(f->half_p99_ms, 37.8);
  // The matched chains' line, not the bare commits' after it.
  EXPECT_DOUBLE_EQ(f->chains_p99_over_p50, 3.50);
  EXPECT_DOUBLE_EQ(f->pgbench_tps, 25997);
  EXPECT_EQ(f->failed_calls, 2);
  EXPECT_DOUBLE_EQ(f->cpu_ms_saturation, 3.55);
  EXPECT_DOUBLE_EQ(f->cpu_ms_half, 5.90);
  // Each process's own line, not its database's, in PlatformProcesses()
  // order: orchestrator, order, inventory, payment, shipping; a process the
  // table does not list reads as 0.
  ASSERT_EQ(f->process_cpu_ms_saturation.size(), 5u);
  EXPECT_NEAR(f->process_cpu_ms_saturation[0], 0.71, 1e-9);
  EXPECT_NEAR(f->process_cpu_ms_saturation[1], 0.355, 1e-9);
  EXPECT_EQ(f->process_cpu_ms_saturation[2], 0);
  EXPECT_NEAR(f->process_cpu_ms_saturation[3], 0.1775, 1e-9);
  ASSERT_EQ(f->process_cpu_ms_half.size(), 5u);
  EXPECT_NEAR(f->process_cpu_ms_half[0], 1.475, 1e-9);
  EXPECT_NEAR(f->process_cpu_ms_half[1], 1.18, 1e-9);
}

TEST(RunFiguresTest, AnOlderBuildWithoutTheClosedLoopReadsAsZero) {
  std::string older = kRun;
  const size_t from = older.find("closed loop");
  const size_t to = older.find("half load");
  older.erase(from, to - from);
  absl::StatusOr<RunFigures> f = ParseRunFigures(older);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->closed_loop_sagas_per_second, 0);
  EXPECT_DOUBLE_EQ(f->sagas_per_second, 507.8);
}

TEST(RunFiguresTest, ARunThatDiedIsNamedByWhatItLacks) {
  absl::StatusOr<RunFigures> f =
      ParseRunFigures("starting the platform under /tmp/x ...\nsaturation:\n");
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("completed sagas/s"), std::string::npos);
}

TEST(RunFiguresTest, TheTableSetsBothBuildsSideBySideWithMediansAndRatios) {
  RunFigures a, b;
  a.sagas_per_second = 400;
  a.cpu_ms_saturation = 4;
  a.pgbench_tps = 20000;
  b = a;
  b.sagas_per_second = 500;
  b.cpu_ms_saturation = 3;
  RunFigures a2 = a;
  a2.sagas_per_second = 420;
  RunFigures a3 = a;
  a3.sagas_per_second = 380;
  const std::string table = CompareTable({a, a2, a3}, {b, b, b});
  EXPECT_NE(table.find("completed sagas/s at saturation"), std::string::npos);
  // Medians 400 and 500: ratio 1.25; CPU 4 against 3: 0.75.
  EXPECT_NE(table.find("400.0 420.0 380.0"), std::string::npos) << table;
  EXPECT_NE(table.find("1.25"), std::string::npos) << table;
  EXPECT_NE(table.find("0.75"), std::string::npos) << table;
  EXPECT_NE(table.find("  of which payment (ms)"), std::string::npos) << table;
}

}  // namespace
}  // namespace sagaworks::bench
