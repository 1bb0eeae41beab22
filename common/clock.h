// Clock: the one way sagaworks code reads the time, so that policies and
// schedulers can be tested with simulated time instead of sleeps.
#ifndef SAGAWORKS_COMMON_CLOCK_H_
#define SAGAWORKS_COMMON_CLOCK_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sagaworks {

// Clock is an injectable source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // SleepFor blocks the caller for `d` of this clock's time.
  virtual void SleepFor(absl::Duration d) = 0;
  // RunAfter calls `fn` once `d` of this clock's time has passed, without
  // holding the caller's thread: work driven by completions waits out its
  // backoffs here. `fn` must not block (it runs on a thread shared by every
  // timer of the clock, or the caller's own).
  virtual void RunAfter(absl::Duration d, std::function<void()> fn) = 0;
};

// RealClock reads the system clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
  // On the process's one timer thread, started at the first use.
  void RunAfter(absl::Duration d, std::function<void()> fn) override;
  // Default returns a process-wide instance.
  static Clock& Default() {
    static RealClock* const kClock = new RealClock();
    return *kClock;
  }
};

// SimulatedClock only moves when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // SleepFor returns at once, having moved the clock: code that backs off
  // runs in simulated time.
  void SleepFor(absl::Duration d) override {
    if (d > absl::ZeroDuration()) Advance(d);
  }
  // RunAfter moves the clock like SleepFor, then calls `fn` on the calling
  // thread.
  void RunAfter(absl::Duration d, std::function<void()> fn) override {
    SleepFor(d);
    fn();
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_CLOCK_H_
