#include "common/server/guard.h"

#include "absl/strings/str_cat.h"
#include "common/observability/metrics.h"
#include "common/resilience/downstream.h"
#include "common/security/tls.h"
#include "common/status.h"

namespace sagaworks::server {
absl::Status ServerGuardConfig::Validate() const {
  if (max_concurrent_calls < 0) {
    return absl::InvalidArgumentError("max concurrent calls must be >= 0");
  }
  if (rate_limit_enabled) {
    if (absl::Status s = rate_limit.Validate(); !s.ok()) return s;
  }
  if (max_tenants < 1) {
    return absl::InvalidArgumentError("max tenants must be >= 1");
  }
  return absl::OkStatus();
}

ServerGuard::ServerGuard(ServerGuardConfig config, Clock& clock,
                         resilience::FaultInjector* chaos,
                         Authorizer& authorizer)
    : config_(config), clock_(clock), chaos_(chaos), authorizer_(authorizer) {}

bool ServerGuard::Delay(grpc::ServerContext* context, absl::Duration latency) {
  // In small steps, so a caller that gives up (or a deadline that passes)
  // frees the thread instead of holding it for the whole latency.
  const absl::Time until = clock_.Now() + latency;
  while (clock_.Now() < until) {
    if (context->IsCancelled()) return false;
    clock_.SleepFor(std::min(until - clock_.Now(), absl::Milliseconds(20)));
  }
  return true;
}

grpc::Status ServerGuard::Admit(grpc::ServerContext* context,
                                const std::string& method,
                                security::Principal* caller) {
  if (resilience::InboundDeadline(*context) <= clock_.Now()) {
    ++stats_.deadline_rejections;
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "deadline expired before the call started");
  }
  absl::StatusOr<security::Principal> who =
      authorizer_.Authorize(*context, method);
  if (!who.ok()) {
    ++(who.status().code() == absl::StatusCode::kUnauthenticated
           ? stats_.unauthenticated
           : stats_.permission_denied);
    return ToGrpcStatus(who.status());
  }
  *caller = *std::move(who);
  if (chaos_ != nullptr) {
    double draw;
    {
      absl::MutexLock lock(&mu_);
      draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    if (std::optional<resilience::Fault> fault = chaos_->Decide(method, draw)) {
      ++stats_.injected_faults;
      if (fault->latency > absl::ZeroDuration() &&
          !Delay(context, fault->latency)) {
        return grpc::Status(grpc::StatusCode::CANCELLED,
                            "caller gave up during injected latency");
      }
      if (!fault->failure.ok()) return ToGrpcStatus(fault->failure);
    }
  }
  absl::MutexLock lock(&mu_);
  if (config_.max_concurrent_calls > 0 &&
      in_flight_ >= config_.max_concurrent_calls) {
    ++stats_.concurrency_rejections;
    context->AddTrailingMetadata("grpc-retry-pushback-ms", "50");
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("server busy: ", in_flight_,
                                     " calls in flight; try again shortly"));
  }
  if (config_.rate_limit_enabled) {
    const std::string tenant = caller->Key();
    auto& bucket = buckets_[tenant];
    if (bucket == nullptr) {
      if (buckets_.size() > config_.max_tenants) {
        for (auto it = buckets_.begin(); it != buckets_.end();) {
          it = it->second != nullptr &&
                       it->second->tokens() == config_.rate_limit.max_tokens
                   ? buckets_.erase(it)
                   : std::next(it);
        }
      }
      bucket =
          std::make_unique<resilience::TokenBucket>(config_.rate_limit, clock_);
    }
    if (!bucket->Obtain()) {
      ++stats_.rate_limit_rejections;
      const int64_t wait_ms = std::max<int64_t>(
          1, absl::ToInt64Milliseconds(bucket->TimeToNextToken()));
      context->AddTrailingMetadata("grpc-retry-pushback-ms",
                                   std::to_string(wait_ms));
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("rate limit exceeded for ", tenant,
                                       "; retry in ", wait_ms, " ms"));
    }
  }
  ++in_flight_;
  return grpc::Status::OK;
}

int ServerGuard::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

void ServerGuard::Release() {
  absl::MutexLock lock(&mu_);
  if (in_flight_ > 0) --in_flight_;
}

namespace {

metrics::CallMetrics MakeServerMetrics(const std::string& service) {
  static metrics::Family& requests = metrics::Registry::Default().Counter(
      "sagaworks_rpc_server_requests_total",
      "Calls this process served, by method and code.",
      {"rpc_service", "rpc_method", "code"});
  static metrics::Family& latency = metrics::Registry::Default().Histogram(
      "sagaworks_rpc_server_duration_seconds",
      "Time to serve a call, by method and code.",
      {"rpc_service", "rpc_method", "code"});
  return metrics::CallMetrics(requests, latency, service);
}

}  // namespace

ServiceGuard::ServiceGuard(ServerGuard& guard, std::string service)
    : guard_(guard),
      service_(std::move(service)),
      metrics_(MakeServerMetrics(service_)) {}

ServerCall::ServerCall(grpc::ServerContext* context, const std::string& service,
                       const char* method, metrics::CallMetrics& metrics)
    : method_(method), metrics_(metrics), start_(absl::Now()) {
  std::optional<trace::SpanContext> parent;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("traceparent"); it != metadata.end()) {
    // A malformed header is ignored: the call starts a new trace.
    parent = trace::ParseTraceparent(
        absl::string_view(it->second.data(), it->second.size()));
    if (parent.has_value()) {
      if (auto st = metadata.find("tracestate"); st != metadata.end()) {
        parent->trace_state = trace::CleanTracestate(
            absl::string_view(st->second.data(), st->second.size()));
      }
      // Only a platform process (its certificate) decides the sampling of
      // the spans it leads to.
      parent->untrusted = !security::PeerSpiffeId(*context).has_value();
    }
  }
  // The caller's context, not whatever this thread last had: each call is
  // its own trace unless the caller says otherwise.
  span_ = trace::Tracer::Get().StartSpanUnder(
      absl::StrCat(service, "/", method), trace::SpanKind::kServer,
      parent.has_value() ? &*parent : nullptr);
  if (span_->recording()) {
    span_->SetAttribute("rpc.system", std::string("grpc"));
    span_->SetAttribute("rpc.service", service);
    span_->SetAttribute("rpc.method", std::string(method));
    span_->SetAttribute("client.address", context->peer());
  }
  scope_ = std::make_unique<trace::ScopedContext>(span_->context());
}

void ServerCall::SetCaller(const security::Principal& caller) {
  if (span_->recording()) {
    span_->SetAttribute("enduser.id", caller.name);
    span_->SetAttribute("sagaworks.principal.kind",
                        std::string(security::KindName(caller.kind)));
  }
}

ServerCall::~ServerCall() {
  scope_.reset();
  span_->End();
}

grpc::Status ServerCall::Finish(grpc::Status status) {
  metrics_.Record(method_, static_cast<absl::StatusCode>(status.error_code()),
                  absl::Now() - start_);
  if (span_->recording()) {
    span_->SetAttribute("rpc.grpc.status_code",
                        static_cast<int64_t>(status.error_code()));
    if (status.ok()) {
      span_->SetOk();
    } else {
      span_->SetError(status.error_message());
    }
  }
  return status;
}

}  // namespace sagaworks::server
