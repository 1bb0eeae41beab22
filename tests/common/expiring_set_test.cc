#include "common/expiring_set.h"

#include "gtest/gtest.h"

namespace sagaworks {
namespace {

TEST(ExpiringSetTest, ForgetsANameOnceItsTtlHasPassed) {
  SimulatedClock clock;
  ExpiringSet set({absl::Seconds(30), 100}, clock);
  EXPECT_FALSE(set.Contains("alice"));
  set.Insert("alice");
  clock.Advance(absl::Seconds(29));
  EXPECT_TRUE(set.Contains("alice"));
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(set.Contains("alice"));
}

TEST(ExpiringSetTest, ConfirmingAgainRestartsTheTtl) {
  SimulatedClock clock;
  ExpiringSet set({absl::Seconds(30), 100}, clock);
  set.Insert("widget");
  clock.Advance(absl::Seconds(20));
  set.Insert("widget");
  clock.Advance(absl::Seconds(20));
  EXPECT_TRUE(set.Contains("widget"));
  EXPECT_EQ(set.size(), 1u);
}

TEST(ExpiringSetTest, WhenFullTheOldestGoesFirst) {
  SimulatedClock clock;
  ExpiringSet set({absl::Minutes(5), 2}, clock);
  set.Insert("a");
  clock.Advance(absl::Seconds(1));
  set.Insert("b");
  clock.Advance(absl::Seconds(1));
  set.Insert("c");
  EXPECT_FALSE(set.Contains("a"));
  EXPECT_TRUE(set.Contains("b"));
  EXPECT_TRUE(set.Contains("c"));
  EXPECT_EQ(set.size(), 2u);
}

TEST(ExpiringSetTest, ExpiredEntriesAreDroppedOnInsert) {
  SimulatedClock clock;
  ExpiringSet set({absl::Seconds(10), 100}, clock);
  for (int i = 0; i < 50; ++i) set.Insert("sku-" + std::to_string(i));
  clock.Advance(absl::Seconds(10));
  set.Insert("fresh");
  EXPECT_EQ(set.size(), 1u);
}

TEST(ExpiringSetTest, AZeroTtlRemembersNothing) {
  SimulatedClock clock;
  ExpiringSet set({absl::ZeroDuration(), 100}, clock);
  set.Insert("alice");
  EXPECT_FALSE(set.Contains("alice"));
  EXPECT_EQ(set.size(), 0u);
}

TEST(ExpiringSetTest, ConfigRejectsANegativeTtlAndNoRoom) {
  EXPECT_FALSE((ExpiringSetConfig{absl::Seconds(-1), 10}).Validate().ok());
  EXPECT_FALSE((ExpiringSetConfig{absl::Seconds(1), 0}).Validate().ok());
  EXPECT_TRUE((ExpiringSetConfig{absl::Seconds(1), 1}).Validate().ok());
}

}  // namespace
}  // namespace sagaworks
