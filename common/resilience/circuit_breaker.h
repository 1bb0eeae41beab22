// CircuitBreaker: stops calling a downstream that is failing or slow, so that
// callers fail fast instead of piling up on it, and probes it now and then to
// notice when it is back.
//
//   CLOSED --(failure or slow-call rate over threshold in the window, once
//            minimum_calls were seen; or N consecutive failures)--> OPEN
//   OPEN --(open_wait elapsed)--> HALF_OPEN
//   HALF_OPEN --(half_open_probes successes)--> CLOSED
//   HALF_OPEN --(any probe fails)--> OPEN
//
// Example:
//   if (!breaker.TryAcquire()) return Unavailable("payment: circuit open");
//   grpc::Status s = Call();
//   Failed(s) ? breaker.OnFailure(elapsed) : breaker.OnSuccess(elapsed);
#ifndef SAGAWORKS_COMMON_RESILIENCE_CIRCUIT_BREAKER_H_
#define SAGAWORKS_COMMON_RESILIENCE_CIRCUIT_BREAKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/resilience/sliding_window.h"

namespace sagaworks::resilience {

struct CircuitBreakerConfig {
  SlidingWindow::Type window_type = SlidingWindow::Type::kCount;
  // Calls (count-based) or seconds (time-based).
  int window_size = 20;
  // Rates are not judged before the window holds this many calls.
  int minimum_calls = 5;
  // Open when at least this fraction of calls in the window failed.
  double failure_rate_threshold = 0.5;
  // Open when at least this fraction took slow_call_duration or longer;
  // above 1 disables it.
  double slow_call_rate_threshold = 1.1;
  absl::Duration slow_call_duration = absl::Seconds(2);
  // Open after this many failures in a row, whatever the window says; 0
  // disables it.
  int consecutive_failures = 5;
  absl::Duration open_wait = absl::Seconds(5);
  // Calls let through while half-open; all must succeed to close.
  int half_open_probes = 2;

  absl::Status Validate() const;
};

enum class BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
const char* BreakerStateName(BreakerState state);  // "closed", "open", ...

struct BreakerSnapshot {
  BreakerState state = BreakerState::kClosed;
  WindowTotals window;
  int consecutive_failures = 0;
  int64_t transitions = 0;
  int64_t rejected = 0;
};

class CircuitBreaker {
 public:
  using Listener = std::function<void(BreakerState from, BreakerState to)>;

  CircuitBreaker(std::string name, CircuitBreakerConfig config, Clock& clock);

  // TryAcquire asks to make a call. False means fail fast: open, or half-open
  // with every probe already out. A true must be followed by exactly one of
  // OnSuccess, OnFailure or OnIgnored.
  [[nodiscard]] bool TryAcquire();
  void OnSuccess(absl::Duration elapsed);
  void OnFailure(absl::Duration elapsed);
  // OnIgnored: the call ended in a way that says nothing about the
  // downstream's health (the caller gave up); it frees a probe slot.
  void OnIgnored();

  BreakerState state() const;
  BreakerSnapshot Snapshot() const;
  const std::string& name() const { return name_; }

  // set_listener is called on every transition, outside the lock; set it
  // before the breaker is shared.
  void set_listener(Listener listener) { listener_ = std::move(listener); }

 private:
  // Returns the transition made, if any, for the listener.
  void Record(bool failure, absl::Duration elapsed);
  void MoveTo(BreakerState to, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(BreakerState from, BreakerState to);

  const std::string name_;
  const CircuitBreakerConfig config_;
  Clock& clock_;
  Listener listener_;

  mutable absl::Mutex mu_;
  BreakerState state_ ABSL_GUARDED_BY(mu_) = BreakerState::kClosed;
  SlidingWindow window_ ABSL_GUARDED_BY(mu_);
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_);
  int probes_out_ ABSL_GUARDED_BY(mu_) = 0;
  int probes_ok_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t transitions_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  // While open: open_until_ in Unix microseconds, so that a refusal needs
  // neither the lock nor a transition (kNotOpen otherwise); and the calls
  // refused that way.
  static constexpr int64_t kNotOpen = INT64_MIN;
  std::atomic<int64_t> refuse_until_us_{kNotOpen};
  std::atomic<int64_t> fast_rejected_{0};
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_CIRCUIT_BREAKER_H_
