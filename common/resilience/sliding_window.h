// SlidingWindow: outcome totals over the last N calls (count-based) or the
// last N seconds (time-based), for failure and slow-call rates. Not
// thread-safe: its owner locks.
#ifndef SAGAWORKS_COMMON_RESILIENCE_SLIDING_WINDOW_H_
#define SAGAWORKS_COMMON_RESILIENCE_SLIDING_WINDOW_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace sagaworks::resilience {

struct WindowTotals {
  int64_t calls = 0;
  int64_t failures = 0;
  int64_t slow = 0;

  double failure_rate() const {
    return calls == 0 ? 0.0 : static_cast<double>(failures) / calls;
  }
  double slow_rate() const {
    return calls == 0 ? 0.0 : static_cast<double>(slow) / calls;
  }
};

class SlidingWindow {
 public:
  enum class Type { kCount, kTime };

  // `size` is a number of calls (kCount) or of seconds (kTime), at least 1.
  SlidingWindow(Type type, int size);

  void Record(absl::Time now, bool failure, bool slow);
  // Totals over the window as of `now`.
  WindowTotals Totals(absl::Time now) const;
  void Reset();

 private:
  struct Bucket {
    int64_t second = INT64_MIN;  // kTime: the second this bucket counts
    WindowTotals totals;
  };

  const Type type_;
  const int size_;
  std::vector<Bucket> buckets_;
  // kCount: a ring of one call per bucket, with running totals.
  int next_ = 0;
  int filled_ = 0;
  WindowTotals running_;
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_SLIDING_WINDOW_H_
