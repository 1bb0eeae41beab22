#include "common/resilience/circuit_breaker.h"

#include "absl/strings/str_cat.h"

namespace sagaworks::resilience {

absl::Status CircuitBreakerConfig::Validate() const {
  if (window_size < 1) {
    return absl::InvalidArgumentError("breaker window_size must be >= 1");
  }
  if (minimum_calls < 1) {
    return absl::InvalidArgumentError("breaker minimum_calls must be >= 1");
  }
  if (window_type == SlidingWindow::Type::kCount &&
      minimum_calls > window_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("breaker minimum_calls (", minimum_calls,
                     ") exceeds a count window of ", window_size,
                     " calls: it could never trip"));
  }
  if (!(failure_rate_threshold > 0.0 && failure_rate_threshold <= 1.0)) {
    return absl::InvalidArgumentError(
        "breaker failure_rate_threshold must be in (0, 1]");
  }
  if (!(slow_call_rate_threshold > 0.0)) {
    return absl::InvalidArgumentError(
        "breaker slow_call_rate_threshold must be > 0 (above 1 disables it)");
  }
  if (slow_call_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "breaker slow_call_duration must be positive");
  }
  if (consecutive_failures < 0) {
    return absl::InvalidArgumentError(
        "breaker consecutive_failures must be >= 0");
  }
  if (open_wait <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("breaker open_wait must be positive");
  }
  if (half_open_probes < 1) {
    return absl::InvalidArgumentError("breaker half_open_probes must be >= 1");
  }
  return absl::OkStatus();
}

const char* BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerConfig config,
                               Clock& clock)
    : name_(std::move(name)),
      config_(config),
      clock_(clock),
      window_(config.window_type, config.window_size) {}

void CircuitBreaker::MoveTo(BreakerState to, absl::Time now) {
  state_ = to;
  ++transitions_;
  probes_out_ = 0;
  probes_ok_ = 0;
  if (to == BreakerState::kOpen) open_until_ = now + config_.open_wait;
  refuse_until_us_.store(
      to == BreakerState::kOpen ? absl::ToUnixMicros(open_until_) : kNotOpen,
      std::memory_order_release);
  if (to == BreakerState::kClosed) {
    // A fresh start: the failures that opened the breaker are history.
    window_.Reset();
    consecutive_failures_ = 0;
  }
}

void CircuitBreaker::Notify(BreakerState from, BreakerState to) {
  if (listener_ && from != to) listener_(from, to);
}

bool CircuitBreaker::TryAcquire() {
  // Open and not yet due for a probe: refused without the lock.
  const int64_t until = refuse_until_us_.load(std::memory_order_acquire);
  if (until != kNotOpen && absl::ToUnixMicros(clock_.Now()) < until) {
    fast_rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  BreakerState from, to;
  bool permitted = false;
  {
    absl::MutexLock lock(&mu_);
    from = state_;
    const absl::Time now = clock_.Now();
    if (state_ == BreakerState::kOpen && now >= open_until_) {
      MoveTo(BreakerState::kHalfOpen, now);
    }
    switch (state_) {
      case BreakerState::kClosed:
        permitted = true;
        break;
      case BreakerState::kHalfOpen:
        permitted = probes_out_ + probes_ok_ < config_.half_open_probes;
        if (permitted) ++probes_out_;
        break;
      case BreakerState::kOpen:
        permitted = false;
        break;
    }
    if (!permitted) ++rejected_;
    to = state_;
  }
  Notify(from, to);
  return permitted;
}

void CircuitBreaker::OnSuccess(absl::Duration elapsed) {
  Record(/*failure=*/false, elapsed);
}

void CircuitBreaker::OnFailure(absl::Duration elapsed) {
  Record(/*failure=*/true, elapsed);
}

void CircuitBreaker::OnIgnored() {
  absl::MutexLock lock(&mu_);
  if (state_ == BreakerState::kHalfOpen && probes_out_ > 0) --probes_out_;
}

void CircuitBreaker::Record(bool failure, absl::Duration elapsed) {
  BreakerState from, to;
  {
    absl::MutexLock lock(&mu_);
    from = state_;
    const absl::Time now = clock_.Now();
    const bool slow = elapsed >= config_.slow_call_duration;
    switch (state_) {
      case BreakerState::kHalfOpen:
        if (probes_out_ > 0) --probes_out_;
        if (failure || slow) {
          MoveTo(BreakerState::kOpen, now);
        } else if (++probes_ok_ >= config_.half_open_probes) {
          MoveTo(BreakerState::kClosed, now);
        }
        break;
      case BreakerState::kClosed: {
        window_.Record(now, failure, slow);
        consecutive_failures_ = failure ? consecutive_failures_ + 1 : 0;
        const WindowTotals totals = window_.Totals(now);
        const bool rates_judged = totals.calls >= config_.minimum_calls;
        if ((config_.consecutive_failures > 0 &&
             consecutive_failures_ >= config_.consecutive_failures) ||
            (rates_judged &&
             (totals.failure_rate() >= config_.failure_rate_threshold ||
              totals.slow_rate() >= config_.slow_call_rate_threshold))) {
          MoveTo(BreakerState::kOpen, now);
        }
        break;
      }
      case BreakerState::kOpen:
        // A call permitted before the breaker opened: already accounted for.
        break;
    }
    to = state_;
  }
  Notify(from, to);
}

BreakerState CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  if (state_ == BreakerState::kOpen && clock_.Now() >= open_until_) {
    return BreakerState::kHalfOpen;  // the next call will probe
  }
  return state_;
}

BreakerSnapshot CircuitBreaker::Snapshot() const {
  BreakerSnapshot s;
  s.state = state();
  absl::MutexLock lock(&mu_);
  s.window = window_.Totals(clock_.Now());
  s.consecutive_failures = consecutive_failures_;
  s.transitions = transitions_;
  s.rejected = rejected_ + fast_rejected_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sagaworks::resilience
