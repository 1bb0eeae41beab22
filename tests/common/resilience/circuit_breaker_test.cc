// CircuitBreaker and its sliding windows, on simulated time.
#include "common/resilience/circuit_breaker.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

constexpr absl::Duration kFast = absl::Milliseconds(1);

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerConfig Config() {
    CircuitBreakerConfig c;
    c.window_size = 10;
    c.minimum_calls = 4;
    c.failure_rate_threshold = 0.5;
    c.consecutive_failures = 0;
    c.open_wait = absl::Seconds(5);
    c.half_open_probes = 2;
    return c;
  }
  void Call(CircuitBreaker& b, bool fail, absl::Duration took = kFast) {
    ASSERT_TRUE(b.TryAcquire());
    fail ? b.OnFailure(took) : b.OnSuccess(took);
  }

  SimulatedClock clock_{absl::FromUnixSeconds(1000)};
};

TEST_F(CircuitBreakerTest, StaysClosedBelowMinimumCallsEvenIfAllFail) {
  CircuitBreaker b("payment", Config(), clock_);
  for (int i = 0; i < 3; ++i) Call(b, /*fail=*/true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Call(b, /*fail=*/true);  // the fourth call makes the rate count
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, OpensAtTheFailureRateThresholdNotBelow) {
  CircuitBreaker b("payment", Config(), clock_);
  // 4 of 9 failed: 44% < 50%.
  for (int i = 0; i < 5; ++i) Call(b, false);
  for (int i = 0; i < 4; ++i) Call(b, true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_NEAR(b.Snapshot().window.failure_rate(), 4.0 / 9, 1e-9);
  Call(b, true);  // 5 of 10: 50%
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, CountWindowForgetsTheOldestCalls) {
  CircuitBreaker b("payment", Config(), clock_);
  for (int i = 0; i < 4; ++i) Call(b, true);  // opens
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  SlidingWindow w(SlidingWindow::Type::kCount, 3);
  w.Record(clock_.Now(), true, false);
  w.Record(clock_.Now(), false, false);
  w.Record(clock_.Now(), false, true);
  EXPECT_EQ(w.Totals(clock_.Now()).failures, 1);
  w.Record(clock_.Now(), false, false);  // evicts the failure
  EXPECT_EQ(w.Totals(clock_.Now()).failures, 0);
  EXPECT_EQ(w.Totals(clock_.Now()).slow, 1);
  EXPECT_EQ(w.Totals(clock_.Now()).calls, 3);
}

TEST_F(CircuitBreakerTest, TimeWindowForgetsCallsOlderThanItsSeconds) {
  SlidingWindow w(SlidingWindow::Type::kTime, 10);
  for (int i = 0; i < 5; ++i) w.Record(clock_.Now(), true, false);
  clock_.Advance(absl::Seconds(9));
  w.Record(clock_.Now(), false, false);
  EXPECT_EQ(w.Totals(clock_.Now()).calls, 6);
  clock_.Advance(absl::Seconds(1));  // the first second leaves the window
  EXPECT_EQ(w.Totals(clock_.Now()).calls, 1);
  EXPECT_EQ(w.Totals(clock_.Now()).failures, 0);
  clock_.Advance(absl::Seconds(100));
  EXPECT_EQ(w.Totals(clock_.Now()).calls, 0);
}

TEST_F(CircuitBreakerTest, TimeBasedBreakerJudgesOnlyRecentCalls) {
  CircuitBreakerConfig c = Config();
  c.window_type = SlidingWindow::Type::kTime;
  c.window_size = 10;
  CircuitBreaker b("payment", c, clock_);
  for (int i = 0; i < 3; ++i) Call(b, true);
  clock_.Advance(absl::Seconds(11));  // those failures age out
  for (int i = 0; i < 3; ++i) Call(b, false);
  Call(b, true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);  // 1 of 4 recent failed
}

TEST_F(CircuitBreakerTest, SlowCallsOpenItToo) {
  CircuitBreakerConfig c = Config();
  c.slow_call_rate_threshold = 0.5;
  c.slow_call_duration = absl::Seconds(1);
  CircuitBreaker b("shipping", c, clock_);
  Call(b, false, absl::Seconds(2));
  Call(b, false, absl::Seconds(2));
  Call(b, false);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Call(b, false);  // 2 of 4 slow: 50%
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, ConsecutiveFailuresTripBeforeTheRateWould) {
  CircuitBreakerConfig c = Config();
  c.window_size = 100;
  c.minimum_calls = 100;
  c.consecutive_failures = 3;
  CircuitBreaker b("payment", c, clock_);
  Call(b, true);
  Call(b, true);
  Call(b, false);  // the run is broken
  Call(b, true);
  Call(b, true);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Call(b, true);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, OpenFailsFastUntilTheWaitThenProbes) {
  std::vector<std::pair<BreakerState, BreakerState>> seen;
  CircuitBreaker b("payment", Config(), clock_);
  b.set_listener(
      [&](BreakerState from, BreakerState to) { seen.emplace_back(from, to); });
  for (int i = 0; i < 4; ++i) Call(b, true);
  EXPECT_FALSE(b.TryAcquire());
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(b.TryAcquire());
  EXPECT_EQ(b.Snapshot().rejected, 2);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  // Two probes may go out; a third waits for their verdict.
  ASSERT_TRUE(b.TryAcquire());
  ASSERT_TRUE(b.TryAcquire());
  EXPECT_FALSE(b.TryAcquire());
  b.OnSuccess(kFast);
  b.OnSuccess(kFast);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.Snapshot().window.calls, 0);  // closed afresh
  EXPECT_EQ(seen, (std::vector<std::pair<BreakerState, BreakerState>>{
                      {BreakerState::kClosed, BreakerState::kOpen},
                      {BreakerState::kOpen, BreakerState::kHalfOpen},
                      {BreakerState::kHalfOpen, BreakerState::kClosed}}));
}

TEST_F(CircuitBreakerTest, AFailedProbeReopensForAnotherFullWait) {
  CircuitBreaker b("payment", Config(), clock_);
  for (int i = 0; i < 4; ++i) Call(b, true);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(b.TryAcquire());
  b.OnFailure(kFast);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(b.TryAcquire());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(b.TryAcquire());
  b.OnIgnored();  // the caller gave up: the slot is free again
  EXPECT_TRUE(b.TryAcquire());
  EXPECT_TRUE(b.TryAcquire());
}

TEST_F(CircuitBreakerTest, ManyThreadsNeverGetMoreProbesThanAllowed) {
  CircuitBreaker b("payment", Config(), clock_);
  for (int i = 0; i < 4; ++i) Call(b, true);
  clock_.Advance(absl::Seconds(5));
  std::atomic<int> permitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (b.TryAcquire()) ++permitted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(permitted.load(), 2);
}

TEST_F(CircuitBreakerTest, ConcurrentOutcomesAreAllCounted) {
  CircuitBreakerConfig c = Config();
  c.window_size = 100000;
  c.minimum_calls = 100000;
  CircuitBreaker b("inventory", c, clock_);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (b.TryAcquire())
          (i % 4 == 0) ? b.OnFailure(kFast) : b.OnSuccess(kFast);
      }
      (void)t;
    });
  }
  for (auto& t : threads) t.join();
  BreakerSnapshot s = b.Snapshot();
  EXPECT_EQ(s.window.calls, 8000);
  EXPECT_EQ(s.window.failures, 2000);
}

TEST(CircuitBreakerConfigTest, RefusesSettingsThatCouldNeverWork) {
  EXPECT_TRUE(CircuitBreakerConfig{}.Validate().ok());
  CircuitBreakerConfig c;
  c.minimum_calls = 50;
  c.window_size = 20;
  EXPECT_FALSE(c.Validate().ok());
  c = CircuitBreakerConfig{};
  c.failure_rate_threshold = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = CircuitBreakerConfig{};
  c.open_wait = absl::ZeroDuration();
  EXPECT_FALSE(c.Validate().ok());
  c = CircuitBreakerConfig{};
  c.half_open_probes = 0;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace sagaworks::resilience
