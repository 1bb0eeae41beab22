// TokenBucket: a rate limit that allows bursts. Holds up to max_tokens;
// `refill.amount` tokens come back every `refill.interval`. Thread-safe.
//
// Example: 100 calls per second, bursts of 200:
//   TokenBucket bucket({200, {100, absl::Seconds(1)}}, clock);
//   if (!bucket.Obtain()) return ResourceExhausted(...);
#ifndef SAGAWORKS_COMMON_RESILIENCE_TOKEN_BUCKET_H_
#define SAGAWORKS_COMMON_RESILIENCE_TOKEN_BUCKET_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks::resilience {

struct RefillPolicy {
  int64_t amount = 1;
  absl::Duration interval = absl::Seconds(1);
};

struct TokenBucketConfig {
  int64_t max_tokens = 100;
  RefillPolicy refill{100, absl::Seconds(1)};

  absl::Status Validate() const;
};

class TokenBucket {
 public:
  // Starts full.
  TokenBucket(TokenBucketConfig config, Clock& clock);

  // Obtain takes one token; false when none is left.
  [[nodiscard]] bool Obtain();
  // TimeToNextToken is how long until Obtain can succeed again (zero when it
  // can now): what a refusal tells the caller to wait.
  absl::Duration TimeToNextToken();
  int64_t tokens();

 private:
  void Refill(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TokenBucketConfig config_;
  Clock& clock_;
  absl::Mutex mu_;
  int64_t tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_refill_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_TOKEN_BUCKET_H_
