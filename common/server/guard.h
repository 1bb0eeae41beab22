// ServerGuard: what every handler of a process passes through before it
// runs, in this order:
//   1. a call whose deadline has already passed is refused (DEADLINE_EXCEEDED);
//   2. authentication and authorization (authorizer.h): UNAUTHENTICATED or
//      PERMISSION_DENIED, before the call costs anything else;
//   3. fault injection, when an operator set a rule (added latency, failures);
//   4. a concurrency limit: beyond it calls are shed (RESOURCE_EXHAUSTED)
//      instead of queueing without bound;
//   5. a token bucket per authenticated principal: RESOURCE_EXHAUSTED with
//      grpc-retry-pushback-ms saying when a token is back.
// The handler then runs with the principal as Caller().
// gRPC 1.51 server interceptors cannot reject a call, so handlers call the
// guard themselves, through a ServiceGuard:
//
//   return guard_.Run(context, "Charge", [&] { ...; return status; });
#ifndef SAGAWORKS_COMMON_SERVER_GUARD_H_
#define SAGAWORKS_COMMON_SERVER_GUARD_H_

#include <map>
#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/resilience/chaos.h"
#include "common/resilience/token_bucket.h"
#include "common/security/principal.h"
#include "common/server/authorizer.h"
#include "grpcpp/server_context.h"

namespace sagaworks::server {

struct ServerGuardConfig {
  // Calls running at once; 0 disables the limit.
  int max_concurrent_calls = 256;
  // Per principal; a refill amount of 0 disables rate limiting.
  resilience::TokenBucketConfig rate_limit{10000, {5000, absl::Seconds(1)}};
  bool rate_limit_enabled = true;
  // Buckets (principals) kept at most; past this, full (idle) buckets are
  // dropped.
  size_t max_tenants = 10000;

  absl::Status Validate() const;
};

// GuardStats: counters for metrics and status. Monotonic.
struct GuardStats {
  std::atomic<int64_t> deadline_rejections{0};
  std::atomic<int64_t> concurrency_rejections{0};
  std::atomic<int64_t> rate_limit_rejections{0};
  std::atomic<int64_t> injected_faults{0};
  std::atomic<int64_t> unauthenticated{0};
  std::atomic<int64_t> permission_denied{0};
};

class ServerGuard {
 public:
  ServerGuard(ServerGuardConfig config, Clock& clock,
              resilience::FaultInjector* chaos, Authorizer& authorizer);

  // Admit decides whether a call of `method` ("/pkg.Service/Method") may run
  // and who makes it (`caller`); OK means it holds a concurrency slot that
  // Release() must return.
  grpc::Status Admit(grpc::ServerContext* context, const std::string& method,
                     security::Principal* caller);
  void Release();

  const GuardStats& stats() const { return stats_; }
  // in_flight is how many admitted calls are still running.
  int in_flight() const;

 private:
  // Waits out injected latency; false if the caller gave up meanwhile.
  bool Delay(grpc::ServerContext* context, absl::Duration latency);

  const ServerGuardConfig config_;
  Clock& clock_;
  resilience::FaultInjector* chaos_;
  Authorizer& authorizer_;
  GuardStats stats_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::unique_ptr<resilience::TokenBucket>> buckets_
      ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_){std::random_device{}()};
};

// ServerCall: the telemetry of one server call: a server span continuing the
// caller's `traceparent` (current on this thread while the call runs, so the
// handler's own calls and logs join the trace), and the request count and
// latency by method and code.
class ServerCall {
 public:
  ServerCall(grpc::ServerContext* context, const std::string& service,
             const char* method, metrics::CallMetrics& metrics);
  ~ServerCall();
  // SetCaller records who made the call on its span.
  void SetCaller(const security::Principal& caller);
  // Finish records the call's status and returns it.
  grpc::Status Finish(grpc::Status status);

 private:
  const char* method_;
  metrics::CallMetrics& metrics_;
  absl::Time start_;
  std::unique_ptr<trace::Span> span_;
  std::unique_ptr<trace::ScopedContext> scope_;
};

// ServiceGuard: one service's view of the guard, naming its methods.
class ServiceGuard {
 public:
  ServiceGuard(ServerGuard& guard, std::string service);

  template <typename Handler>
  grpc::Status Run(grpc::ServerContext* context, const char* method,
                   Handler&& handler) {
    ServerCall call(context, service_, method, metrics_);
    security::Principal caller;
    grpc::Status admitted =
        guard_.Admit(context, "/" + service_ + "/" + method, &caller);
    if (!admitted.ok()) return call.Finish(admitted);
    call.SetCaller(caller);
    struct ReleaseOnExit {
      ServerGuard& g;
      ~ReleaseOnExit() { g.Release(); }
    } release{guard_};
    ScopedCaller scope(caller);
    return call.Finish(handler());
  }

 private:
  ServerGuard& guard_;
  const std::string service_;
  metrics::CallMetrics metrics_;
};

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_GUARD_H_
