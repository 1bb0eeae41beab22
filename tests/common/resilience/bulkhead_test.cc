#include "common/resilience/bulkhead.h"

#include <atomic>
#include <functional>
#include <memory>
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

// A clock whose timers fire only when the test says so.
class ManualTimers final : public Clock {
 public:
  absl::Time Now() const override { return absl::UnixEpoch(); }
  void SleepFor(absl::Duration) override {}
  void RunAfter(absl::Duration d, std::function<void()> fn) override {
    waits.push_back(d);
    timers.push_back(std::move(fn));
  }
  void FireAll() {
    std::vector<std::function<void()>> due = std::move(timers);
    timers.clear();
    for (auto& fn : due) fn();
  }
  std::vector<absl::Duration> waits;
  std::vector<std::function<void()>> timers;
};

TEST(BulkheadTest, AnAsyncWaiterGetsTheSlotLeftWithoutHoldingAThread) {
  ManualTimers clock;
  auto b = std::make_unique<Bulkhead>(BulkheadConfig{1, absl::Seconds(2)});
  std::vector<bool> answers;
  b->EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  b->EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  // The first got the slot at once; the second waits, with a timer set for
  // its max_wait.
  EXPECT_EQ(answers, std::vector<bool>{true});
  EXPECT_EQ(clock.waits, std::vector<absl::Duration>{absl::Seconds(2)});
  b->Leave();  // hands the slot over as it is
  EXPECT_EQ(answers, (std::vector<bool>{true, true}));
  EXPECT_EQ(b->in_use(), 1);
  EXPECT_EQ(b->rejected(), 0);
  // The timer of a waiter already served does nothing, even once the
  // bulkhead is gone (its calls over).
  b.reset();
  clock.FireAll();
  EXPECT_EQ(answers.size(), 2u);
}

TEST(BulkheadTest, AnAsyncWaiterIsRefusedOnceItsWaitRunsOut) {
  ManualTimers clock;
  Bulkhead b({1, absl::Seconds(2)});
  std::vector<bool> answers;
  b.EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  b.EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  clock.FireAll();
  EXPECT_EQ(answers, (std::vector<bool>{true, false}));
  EXPECT_EQ(b.rejected(), 1);
  // The refused waiter is gone: leaving frees the slot for the next.
  b.Leave();
  EXPECT_EQ(b.in_use(), 0);
  // Without a max_wait a full bulkhead refuses at once.
  Bulkhead now({1, absl::ZeroDuration()});
  answers.clear();
  now.EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  now.EnterAsync(clock, [&](bool got) { answers.push_back(got); });
  EXPECT_EQ(answers, (std::vector<bool>{true, false}));
  EXPECT_TRUE(clock.timers.empty());
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
