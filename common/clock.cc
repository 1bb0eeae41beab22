#include "common/clock.h"

#include <map>
#include <thread>
#include <utility>

namespace sagaworks {
namespace {

// TimerThread runs every RealClock timer of the process, soonest first.
class TimerThread {
 public:
  void Add(absl::Time when, std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    if (!started_) {
      started_ = true;
      // The timers live as long as the process: the thread is never joined.
      std::thread([this] { Loop(); }).detach();
    }
    timers_.emplace(when, std::move(fn));
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !timers_.empty();
      };
      mu_.Await(absl::Condition(&any));
      const absl::Time head = timers_.begin()->first;
      const absl::Time now = absl::Now();
      if (head > now) {
        // Until the head is due, or a sooner timer is added.
        auto sooner = [this, head]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return timers_.begin()->first < head;
        };
        mu_.AwaitWithTimeout(absl::Condition(&sooner), head - now);
        continue;
      }
      std::function<void()> fn = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      mu_.Unlock();
      fn();
      mu_.Lock();
    }
  }

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::multimap<absl::Time, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
};

TimerThread& Timers() {
  static TimerThread* const kTimers = new TimerThread();
  return *kTimers;
}

}  // namespace

void RealClock::RunAfter(absl::Duration d, std::function<void()> fn) {
  Timers().Add(absl::Now() + d, std::move(fn));
}

}  // namespace sagaworks
