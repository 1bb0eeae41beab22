// TokenBucket over simulated time.
#include "common/resilience/token_bucket.h"

#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

TEST(TokenBucketTest, AllowsABurstThenTheRefillRate) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  TokenBucket bucket({10, {5, absl::Seconds(1)}}, clock);
  int got = 0;
  while (bucket.Obtain()) ++got;
  EXPECT_EQ(got, 10);
  // Over 60 simulated seconds, at most 5 a second get through.
  int admitted = 0;
  for (int ms = 0; ms < 60000; ms += 10) {
    clock.Advance(absl::Milliseconds(10));
    while (bucket.Obtain()) ++admitted;
  }
  EXPECT_EQ(admitted, 300);
}

TEST(TokenBucketTest, TellsHowLongUntilTheNextToken) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  TokenBucket bucket({1, {1, absl::Milliseconds(400)}}, clock);
  EXPECT_EQ(bucket.TimeToNextToken(), absl::ZeroDuration());
  ASSERT_TRUE(bucket.Obtain());
  EXPECT_FALSE(bucket.Obtain());
  EXPECT_EQ(bucket.TimeToNextToken(), absl::Milliseconds(400));
  clock.Advance(absl::Milliseconds(150));
  EXPECT_EQ(bucket.TimeToNextToken(), absl::Milliseconds(250));
  clock.Advance(absl::Milliseconds(250));
  EXPECT_TRUE(bucket.Obtain());
}

TEST(TokenBucketTest, NeverHoldsMoreThanItsCapacity) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  TokenBucket bucket({3, {1, absl::Seconds(1)}}, clock);
  clock.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(bucket.tokens(), 3);
}

TEST(TokenBucketTest, ValidateRefusesEmptyBuckets) {
  EXPECT_TRUE(TokenBucketConfig{}.Validate().ok());
  EXPECT_FALSE((TokenBucketConfig{0, {1, absl::Seconds(1)}}).Validate().ok());
  EXPECT_FALSE((TokenBucketConfig{1, {0, absl::Seconds(1)}}).Validate().ok());
  EXPECT_FALSE(
      (TokenBucketConfig{1, {1, absl::ZeroDuration()}}).Validate().ok());
}

}  // namespace
}  // namespace sagaworks::resilience
