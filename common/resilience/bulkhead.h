// Bulkhead: caps the calls in flight to one downstream, so a slow one cannot
// take every thread of its caller. When full, a call is refused at once, or
// after waiting at most max_wait for a slot.
#ifndef SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_
#define SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

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
  // Leave returns a slot taken by TryEnter.
  void Leave();

  int in_use() const;
  int64_t rejected() const;
  const BulkheadConfig& config() const { return config_; }

 private:
  const BulkheadConfig config_;
  mutable absl::Mutex mu_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_BULKHEAD_H_
