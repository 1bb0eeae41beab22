#include "common/resilience/bulkhead.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

TEST(BulkheadTest, RefusesAtOnceWhenFullAndAdmitsAfterLeave) {
  Bulkhead b({2, absl::ZeroDuration()});
  ASSERT_TRUE(b.TryEnter());
  ASSERT_TRUE(b.TryEnter());
  EXPECT_FALSE(b.TryEnter());
  EXPECT_EQ(b.rejected(), 1);
  b.Leave();
  EXPECT_TRUE(b.TryEnter());
  EXPECT_EQ(b.in_use(), 2);
}

TEST(BulkheadTest, ABoundedWaitGetsASlotFreedMeanwhile) {
  Bulkhead b({1, absl::Seconds(30)});
  ASSERT_TRUE(b.TryEnter());
  std::thread leaver([&] { b.Leave(); });
  EXPECT_TRUE(b.TryEnter());  // waits for the leave, far less than 30 s
  leaver.join();
}

TEST(BulkheadTest, ManyThreadsNeverExceedTheLimit) {
  Bulkhead b({4, absl::ZeroDuration()});
  std::atomic<int> inside{0}, peak{0}, entered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!b.TryEnter()) continue;
        const int now = ++inside;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        ++entered;
        --inside;
        b.Leave();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 4);
  EXPECT_GT(entered.load(), 0);
  EXPECT_EQ(entered.load() + b.rejected(), 16 * 2000);
  EXPECT_EQ(b.in_use(), 0);
}

}  // namespace
}  // namespace sagaworks::resilience
