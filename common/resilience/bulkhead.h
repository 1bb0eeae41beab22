// Bulkhead: caps the calls in flight to one downstream, so a slow one cannot
// take every thread of its caller. When full, a call is refused at once, or
// after waiting at most max_wait for a slot.
#ifndef SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_
#define SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks::resilience {

struct BulkheadConfig {
  int max_concurrent = 32;
  // Zero refuses at once when full.
  absl::Duration max_wait = absl::ZeroDuration();

  absl::Status Validate() const;
};

class Bulkhead {
 public:
  explicit Bulkhead(BulkheadConfig config) : config_(config) {}

  // TryEnter takes a slot, waiting up to max_wait; false when none came free.
  [[nodiscard]] bool TryEnter();
  // EnterAsync takes a slot without blocking: `granted(true)` at once when
  // one is free, or on the thread that frees one within max_wait, else
  // `granted(false)` from `clock`'s timer once max_wait passed. `granted`
  // must not block. The bulkhead must outlive the calls waiting in it (a
  // waiter's timer that fires after it got its slot touches nothing).
  void EnterAsync(Clock& clock, std::function<void(bool)> granted);
  // Leave returns a slot taken by TryEnter or EnterAsync,
  // handing it to the longest waiting EnterAsync if there is one.
  void Leave();

  int in_use() const;
  int64_t rejected() const;
  const BulkheadConfig& config() const { return config_; }

 private:
  struct Waiter {
    std::function<void(bool)> granted;
    // Granted or timed out: whoever sets it first answers the waiter.
    std::atomic<bool> settled{false};
  };

  const BulkheadConfig config_;
  mutable absl::Mutex mu_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_
