// Retry decisions, backoff spread, pushback and the retry budget, on
// simulated time with seeded draws.
#include "common/resilience/retry.h"

#include <random>

#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

TEST(RetryTest, RetriesOnlyWhatCannotHaveTakenEffectUnlessIdempotent) {
  for (bool idem : {false, true}) {
    EXPECT_TRUE(IsRetryable(absl::StatusCode::kUnavailable, idem));
    EXPECT_TRUE(IsRetryable(absl::StatusCode::kResourceExhausted, idem));
    EXPECT_EQ(IsRetryable(absl::StatusCode::kDeadlineExceeded, idem), idem);
    EXPECT_EQ(IsRetryable(absl::StatusCode::kAborted, idem), idem);
    EXPECT_FALSE(IsRetryable(absl::StatusCode::kFailedPrecondition, idem));
    EXPECT_FALSE(IsRetryable(absl::StatusCode::kInvalidArgument, idem));
    EXPECT_FALSE(IsRetryable(absl::StatusCode::kInternal, idem));
  }
}

TEST(RetryTest, FullJitterStaysUnderAGrowingCappedCeiling) {
  RetryConfig c;
  c.initial_backoff = absl::Milliseconds(100);
  c.max_backoff = absl::Milliseconds(800);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 200; ++trial) {
    RetryBackoff b(c);
    for (int n = 1; n <= 8; ++n) {
      const absl::Duration ceiling =
          std::min(absl::Milliseconds(100) * (1 << (n - 1)), c.max_backoff);
      const absl::Duration d = b.Next(u(rng));
      ASSERT_GE(d, absl::ZeroDuration());
      ASSERT_LE(d, ceiling);
    }
  }
  RetryBackoff top(c);
  EXPECT_EQ(top.Next(1.0), absl::Milliseconds(100));
  EXPECT_EQ(top.Next(1.0), absl::Milliseconds(200));
  EXPECT_EQ(top.Next(0.5), absl::Milliseconds(200));
}

TEST(RetryTest, DecorrelatedJitterNeverDropsBelowInitialNorAboveCap) {
  RetryConfig c;
  c.jitter = Jitter::kDecorrelated;
  c.initial_backoff = absl::Milliseconds(50);
  c.max_backoff = absl::Seconds(1);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int trial = 0; trial < 200; ++trial) {
    RetryBackoff b(c);
    absl::Duration previous = c.initial_backoff;
    for (int n = 0; n < 10; ++n) {
      const absl::Duration d = b.Next(u(rng));
      ASSERT_GE(d, c.initial_backoff);
      ASSERT_LE(d, std::min(c.max_backoff,
                            std::max(c.initial_backoff, previous * 3)));
      previous = d;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
  }
  EXPECT_LT(lo, absl::Milliseconds(60));
  EXPECT_GT(hi, absl::Milliseconds(900));  // spreads up to the cap
}

TEST(RetryTest, PushbackFollowsTheServer) {
  EXPECT_EQ(ParsePushback(std::nullopt).kind, Pushback::Kind::kAbsent);
  Pushback p = ParsePushback("250");
  EXPECT_EQ(p.kind, Pushback::Kind::kDelay);
  EXPECT_EQ(p.delay, absl::Milliseconds(250));
  EXPECT_EQ(ParsePushback("-1").kind, Pushback::Kind::kStop);
  EXPECT_EQ(ParsePushback("soon").kind, Pushback::Kind::kStop);
}

TEST(RetryBudgetTest, RetriesStayAFractionOfCalls) {
  SimulatedClock clock(absl::FromUnixSeconds(5000));
  RetryBudget budget({0.2, 0, absl::Seconds(10)}, clock);
  for (int i = 0; i < 100; ++i) budget.RecordCall();
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += budget.TryRetry() ? 1 : 0;
  EXPECT_EQ(granted, 20);
}

TEST(RetryBudgetTest, AQuietCallerStillGetsTheMinimumAndTheWindowSlides) {
  SimulatedClock clock(absl::FromUnixSeconds(5000));
  RetryBudget budget({0.1, 1, absl::Seconds(5)}, clock);
  int granted = 0;
  for (int i = 0; i < 20; ++i) granted += budget.TryRetry() ? 1 : 0;
  EXPECT_EQ(granted, 5);  // 1 per second of a 5 s window
  EXPECT_FALSE(budget.TryRetry());
  clock.Advance(absl::Seconds(5));  // those retries leave the window
  EXPECT_TRUE(budget.TryRetry());
}

TEST(RetryConfigTest, RefusesImpossibleSettings) {
  EXPECT_TRUE(RetryConfig{}.Validate().ok());
  RetryConfig c;
  c.max_attempts = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = RetryConfig{};
  c.max_backoff = absl::Milliseconds(1);
  EXPECT_FALSE(c.Validate().ok());
  EXPECT_FALSE((RetryBudgetConfig{-1, 0, absl::Seconds(1)}).Validate().ok());
  EXPECT_FALSE(
      (RetryBudgetConfig{0.1, 0, absl::Milliseconds(10)}).Validate().ok());
}

}  // namespace
}  // namespace sagaworks::resilience
