// Downstream: the pipeline every outbound call of a process goes through, one
// object per downstream service. Call() runs one logical call:
//
//   breaker -> bulkhead
//     -> [ breaker -> attempt with its own ClientContext and deadline
//          -> retry? (retryable code, budget, pushback or backoff,
//             time left) ]*
//     -> fallback on final failure
//
// gRPC 1.51 interceptors can neither repeat nor stop a call, so the pipeline
// wraps the call instead: the caller passes a lambda that makes one attempt
// with the ClientContext it is given.
//
// Example:
//   absl::Status s = payment.Call("Charge", {.idempotent = true},
//       [&](grpc::ClientContext& ctx) { return stub->Charge(&ctx, req, &resp);
//       });
#ifndef SAGAWORKS_COMMON_RESILIENCE_DOWNSTREAM_H_
#define SAGAWORKS_COMMON_RESILIENCE_DOWNSTREAM_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/observability/metrics.h"
#include "common/resilience/bulkhead.h"
#include "common/resilience/circuit_breaker.h"
#include "common/resilience/retry.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace sagaworks::resilience {

// CallPolicy: deadlines and retries of one kind of call.
struct CallPolicy {
  // Deadline of each attempt.
  absl::Duration attempt_timeout = absl::Seconds(2);
  // Deadline of the call, all attempts and waits included.
  absl::Duration total_timeout = absl::Seconds(5);
  RetryConfig retry;

  absl::Status Validate() const;
};

struct DownstreamConfig {
  CallPolicy call;
  // Overrides of `call` by method name ("Charge").
  std::map<std::string, CallPolicy> methods;
  CircuitBreakerConfig breaker;
  // One breaker per method instead of one for the whole downstream.
  bool breaker_per_method = false;
  BulkheadConfig bulkhead;
  RetryBudgetConfig retry_budget;

  absl::Status Validate() const;
};

// DownstreamStats: counters for metrics and status. Monotonic.
struct DownstreamStats {
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> attempts{0};
  std::atomic<int64_t> failures{0};  // calls that ended in an error
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> breaker_rejections{0};
  std::atomic<int64_t> bulkhead_rejections{0};
  std::atomic<int64_t> budget_exhausted{0};
  std::atomic<int64_t> fallbacks{0};
};

struct CallOptions {
  // The call's effect is keyed (idempotency key, or one effect per order), so
  // DEADLINE_EXCEEDED and ABORTED may be retried too.
  bool idempotent = false;
  // The caller's own limit: the inbound call's deadline (propagation) or a
  // saga step's deadline. No attempt runs past it.
  absl::Time deadline = absl::InfiniteFuture();
  // Metadata sent with every attempt (idempotency-key, x-tenant-id).
  std::vector<std::pair<std::string, std::string>> metadata;
  // Called with the final error; its result replaces that error.
  std::function<absl::Status(const absl::Status&)> fallback;
};

// InboundDeadline reads a server call's deadline, for CallOptions::deadline.
absl::Time InboundDeadline(const grpc::ServerContext& context);

// CountsAgainstHealth: errors that say the downstream is unwell (unreachable,
// slow, overloaded, broken), as opposed to refusals of a request it handled.
bool CountsAgainstHealth(absl::StatusCode code);

// IsShedding: RESOURCE_EXHAUSTED with a pushback delay is a server turning
// work away on purpose (a full backlog, a tenant over its rate, too many
// calls in flight) and saying when to come back. It is retried after that
// delay but is not counted against the downstream's health: opening the
// breaker on it would stop every call for the whole open wait, long after
// the server has room again. Without a pushback, an exhausted server still
// counts as unwell.
bool IsShedding(absl::StatusCode code, const Pushback& pushback);

class Downstream {
 public:
  using Attempt = absl::FunctionRef<grpc::Status(grpc::ClientContext&)>;
  // AsyncAttempt starts one attempt with the context it is given (which
  // lives until `done` is called) and calls `done` once it ended, on any
  // thread.
  using AsyncAttempt = std::function<void(
      grpc::ClientContext*, std::function<void(grpc::Status)> done)>;
  using Done = std::function<void(absl::Status)>;

  Downstream(std::string name, DownstreamConfig config, Clock& clock,
             uint64_t seed = std::random_device{}());

  absl::Status Call(const std::string& method, const CallOptions& options,
                    Attempt attempt);
  // CallAsync runs the same pipeline without holding a thread: attempts go
  // out through `attempt`, backoffs wait on the clock's timers, and `done`
  // gets the final status on the thread that saw the call end (a gRPC
  // thread, a timer, or the caller's own when it was refused at once), so
  // it must not block. A call waiting for a bulkhead slot holds no thread
  // either.
  void CallAsync(const std::string& method, CallOptions options,
                 AsyncAttempt attempt, Done done);

  // BreakerFor is the breaker `method`'s calls go through.
  CircuitBreaker& BreakerFor(const std::string& method);
  // Breakers lists (method or "*", snapshot) of every breaker so far.
  std::vector<std::pair<std::string, BreakerSnapshot>> Breakers();

  const std::string& name() const { return name_; }
  // The peer's gRPC service ("sagaworks.v1.PaymentService"), which names the
  // client spans; the downstream's name until set.
  void set_rpc_service(std::string service) {
    rpc_service_ = std::move(service);
  }
  const DownstreamStats& stats() const { return stats_; }
  Bulkhead& bulkhead() { return bulkhead_; }

 private:
  struct Attempting;
  struct AsyncCall;

  const CallPolicy& PolicyFor(const std::string& method) const;
  double Draw();
  absl::Status Finish(const CallOptions& options, absl::Status status);
  // PassBreaker counts the call and asks its breaker: nullopt when the call
  // may go, else its final status, recorded.
  std::optional<absl::Status> PassBreaker(const std::string& method,
                                          const CallOptions& options,
                                          CircuitBreaker& breaker);
  // BulkheadFull is the final status of a call the bulkhead refused,
  // recorded.
  absl::Status BulkheadFull(const std::string& method,
                            const CallOptions& options, CircuitBreaker& breaker,
                            absl::Time start);
  // Prepare readies the next attempt of `a` (its span and context); false
  // when none may be made, `a.last` then being the call's error.
  bool Prepare(Attempting& a);
  // Settle takes an attempt's status: the wait before the next attempt, or
  // nullopt when `a.last` is the call's outcome.
  std::optional<absl::Duration> Settle(Attempting& a,
                                       const grpc::Status& status);
  // Next makes the async call's next attempt, or ends the call.
  void Next(std::shared_ptr<AsyncCall> call);
  void End(AsyncCall& call);

  const std::string name_;
  std::string rpc_service_;
  const DownstreamConfig config_;
  Clock& clock_;
  // Built once, and copied by reference count: an open breaker must refuse
  // in well under a microsecond.
  const absl::Status open_status_;
  DownstreamStats stats_;
  Bulkhead bulkhead_;
  RetryBudget budget_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CircuitBreaker>> breakers_
      ABSL_GUARDED_BY(mu_);
  // The downstream-wide breaker (null with breaker_per_method): no lookup.
  CircuitBreaker* shared_breaker_ = nullptr;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  metrics::CallMetrics call_metrics_;
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_DOWNSTREAM_H_
