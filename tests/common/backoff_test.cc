// Backoff arithmetic: growth, cap and jitter bounds.
#include "common/backoff.h"

#include <random>

#include "gtest/gtest.h"

namespace sagaworks {
namespace {

TEST(BackoffTest, CeilingGrowsGeometricallyUpToTheCap) {
  BackoffConfig c{absl::Milliseconds(100), absl::Seconds(2), 2.0};
  EXPECT_EQ(BackoffCeiling(c, 1), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(c, 2), absl::Milliseconds(200));
  EXPECT_EQ(BackoffCeiling(c, 5), absl::Milliseconds(1600));
  EXPECT_EQ(BackoffCeiling(c, 6), absl::Seconds(2));
  EXPECT_EQ(BackoffCeiling(c, 10000), absl::Seconds(2));  // no overflow
}

TEST(BackoffTest, FullJitterSpreadsOverTheWholeRange) {
  BackoffConfig c{absl::Milliseconds(100), absl::Seconds(2), 2.0};
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = BackoffDelay(c, 3, u(rng));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    ASSERT_GE(d, absl::ZeroDuration());
    ASSERT_LE(d, absl::Milliseconds(400));
  }
  EXPECT_LT(lo, absl::Milliseconds(40));   // reaches near zero
  EXPECT_GT(hi, absl::Milliseconds(360));  // and near the ceiling
}

TEST(BackoffTest, ValidateRefusesImpossibleSettings) {
  EXPECT_TRUE(BackoffConfig{}.Validate().ok());
  EXPECT_FALSE((BackoffConfig{absl::ZeroDuration(), absl::Seconds(1), 2})
                   .Validate()
                   .ok());
  EXPECT_FALSE(
      (BackoffConfig{absl::Seconds(2), absl::Seconds(1), 2}).Validate().ok());
  EXPECT_FALSE(
      (BackoffConfig{absl::Seconds(1), absl::Seconds(2), 0.5}).Validate().ok());
}

}  // namespace
}  // namespace sagaworks
