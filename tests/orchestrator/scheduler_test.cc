// Scheduler: due-time order, no concurrent runs of one id, bounded workers
// and runs.
#include "orchestrator/scheduler.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace sagaworks::orchestrator {
namespace {

// Waits (polling) until `done` holds or 10 s pass.
template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return done();
}

TEST(SchedulerTest, RunsDueTasksInDueOrderAndHoldsFutureOnes) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  absl::Mutex mu;
  std::vector<std::string> ran;
  Scheduler* self = nullptr;
  Scheduler scheduler(1, 1, clock, [&](const std::string& id) {
    {
      absl::MutexLock lock(&mu);
      ran.push_back(id);
    }
    self->Done(id);
  });
  self = &scheduler;
  const absl::Time now = clock.Now();
  scheduler.Schedule("c", now + absl::Seconds(5));
  scheduler.Schedule("b", now - absl::Seconds(1));
  scheduler.Schedule("a", now - absl::Seconds(2));
  scheduler.Start();
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return ran.size() == 2;
  }));
  EXPECT_EQ(scheduler.queued(), 1u);  // "c" is not due on the simulated clock
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return ran.size() == 3;
  }));
  scheduler.Stop();
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SchedulerTest, NeverRunsOneIdTwiceAtOnceAndReRunsWhenAsked) {
  std::atomic<int> running{0}, max_running{0}, runs{0};
  std::atomic<bool> release{false};
  Scheduler* self = nullptr;
  Scheduler scheduler(4, 4, RealClock::Default(), [&](const std::string& id) {
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    if (++runs == 1) {
      // While the first run is in progress, ask for the same id again.
      for (int i = 0; i < 10; ++i) self->Schedule(id, absl::Now());
      while (!release) absl::SleepFor(absl::Milliseconds(1));
    }
    --running;
    self->Done(id);
  });
  self = &scheduler;
  scheduler.Start();
  scheduler.Schedule("saga", absl::Now());
  ASSERT_TRUE(Eventually([&] { return runs.load() == 1; }));
  release = true;
  ASSERT_TRUE(Eventually([&] { return runs.load() == 2; }));
  scheduler.Stop();
  EXPECT_EQ(max_running.load(), 1);
  EXPECT_EQ(runs.load(), 2);  // ten requests while running fold into one re-run
}

TEST(SchedulerTest, UsesNoMoreThanItsWorkers) {
  std::atomic<int> running{0}, max_running{0}, done{0};
  std::atomic<bool> release{false};
  Scheduler* self = nullptr;
  Scheduler scheduler(3, 100, RealClock::Default(), [&](const std::string& id) {
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    while (!release) absl::SleepFor(absl::Milliseconds(1));
    --running;
    ++done;
    self->Done(id);
  });
  self = &scheduler;
  scheduler.Start();
  for (int i = 0; i < 30; ++i) {
    scheduler.Schedule("s" + std::to_string(i), absl::Now());
  }
  ASSERT_TRUE(Eventually([&] { return running.load() == 3; }));
  release = true;
  ASSERT_TRUE(Eventually([&] { return done.load() == 30; }));
  scheduler.Stop();
  EXPECT_EQ(max_running.load(), 3);
}

// A run waiting for a completion holds no worker, only a place: one worker
// keeps max_running runs going, and the next starts when one is Done.
TEST(SchedulerTest, RunsThatWaitHoldAPlaceButNoWorker) {
  absl::Mutex mu;
  std::vector<std::string> started;
  Scheduler scheduler(1, 3, RealClock::Default(), [&](const std::string& id) {
    absl::MutexLock lock(&mu);
    started.push_back(id);
  });
  scheduler.Start();
  for (int i = 0; i < 5; ++i) {
    scheduler.Schedule("s" + std::to_string(i), absl::Now());
  }
  auto started_count = [&] {
    absl::MutexLock lock(&mu);
    return started.size();
  };
  ASSERT_TRUE(Eventually([&] { return started_count() == 3; }));
  EXPECT_EQ(scheduler.running(), 3u);
  EXPECT_EQ(scheduler.queued(), 2u);
  scheduler.Done("s0");
  ASSERT_TRUE(Eventually([&] { return started_count() == 4; }));
  for (const char* id : {"s1", "s2", "s3"}) scheduler.Done(id);
  ASSERT_TRUE(Eventually([&] { return started_count() == 5; }));
  scheduler.Done("s4");
  scheduler.Stop();
  EXPECT_EQ(scheduler.running(), 0u);
}

}  // namespace
}  // namespace sagaworks::orchestrator
