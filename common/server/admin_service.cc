#include "common/server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "common/observability/otlp_exporter.h"
#include "common/status.h"

namespace sagaworks::server {

v1::DownstreamStatus DescribeDownstream(resilience::Downstream& downstream) {
  v1::DownstreamStatus out;
  out.set_name(downstream.name());
  for (const auto& [method, snap] : downstream.Breakers()) {
    v1::BreakerStatus* b = out.add_breakers();
    b->set_method(method);
    b->set_state(resilience::BreakerStateName(snap.state));
    b->set_failure_rate(snap.window.failure_rate());
    b->set_slow_call_rate(snap.window.slow_rate());
    b->set_window_calls(snap.window.calls);
    b->set_transitions(snap.transitions);
    b->set_rejected(snap.rejected);
  }
  const resilience::DownstreamStats& s = downstream.stats();
  out.set_calls(s.calls);
  out.set_attempts(s.attempts);
  out.set_failures(s.failures);
  out.set_retries(s.retries);
  out.set_breaker_rejections(s.breaker_rejections);
  out.set_bulkhead_rejections(s.bulkhead_rejections);
  out.set_budget_exhausted(s.budget_exhausted);
  out.set_in_flight(downstream.bulkhead().in_use());
  return out;
}

void AdminServiceImpl::Track(resilience::Downstream* downstream) {
  absl::MutexLock lock(&mu_);
  downstreams_.push_back(downstream);
}

grpc::Status AdminServiceImpl::GetResilienceStatus(
    grpc::ServerContext* context, const v1::GetResilienceStatusRequest*,
    v1::ResilienceStatus* response) {
  absl::StatusOr<security::Principal> caller = authorizer_.Authorize(
      *context, absl::StrCat("/", v1::AdminService::service_full_name(),
                             "/GetResilienceStatus"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  Describe(response);
  return grpc::Status::OK;
}

void AdminServiceImpl::Describe(v1::ResilienceStatus* response) {
  {
    absl::MutexLock lock(&mu_);
    for (resilience::Downstream* d : downstreams_) {
      *response->add_downstreams() = DescribeDownstream(*d);
    }
  }
  const GuardStats& g = guard_.stats();
  v1::GuardStatus* guard = response->mutable_guard();
  guard->set_deadline_rejections(g.deadline_rejections);
  guard->set_concurrency_rejections(g.concurrency_rejections);
  guard->set_rate_limit_rejections(g.rate_limit_rejections);
  guard->set_injected_faults(g.injected_faults);
  guard->set_in_flight(guard_.in_flight());
  guard->set_unauthenticated(g.unauthenticated);
  guard->set_permission_denied(g.permission_denied);
}

void AdminServiceImpl::ExportMetrics(metrics::Registry& registry) {
  const std::vector<std::string> kDownstream = {"downstream"};
  const std::vector<std::string> kBreaker = {"downstream", "method"};
  metrics::Family& state = registry.Gauge(
      "sagaworks_circuit_breaker_state",
      "Circuit breaker state per downstream: 0 closed, 1 open, 2 half-open.",
      kBreaker);
  metrics::Family& transitions = registry.Counter(
      "sagaworks_circuit_breaker_transitions_total",
      "Circuit breaker state changes per downstream.", kBreaker);
  metrics::Family& failure_rate = registry.Gauge(
      "sagaworks_circuit_breaker_failure_ratio",
      "Share of failed calls in the breaker's window.", kBreaker);
  metrics::Family& attempts = registry.Counter(
      "sagaworks_rpc_client_attempts_total",
      "Attempts sent to a downstream, retries included.", kDownstream);
  metrics::Family& retries = registry.Counter(
      "sagaworks_rpc_client_retries_total",
      "Attempts that were retries of a failed one.", kDownstream);
  metrics::Family& breaker_rejections = registry.Counter(
      "sagaworks_circuit_breaker_rejections_total",
      "Calls refused because the breaker was open.", kDownstream);
  metrics::Family& bulkhead_rejections = registry.Counter(
      "sagaworks_bulkhead_rejections_total",
      "Calls refused because the downstream's bulkhead was full.", kDownstream);
  metrics::Family& budget = registry.Counter(
      "sagaworks_retry_budget_exhausted_total",
      "Retries not made because the retry budget was spent.", kDownstream);
  metrics::Family& in_flight =
      registry.Gauge("sagaworks_rpc_client_in_flight",
                     "Calls out to a downstream now.", kDownstream);
  metrics::Family& rejected = registry.Counter(
      "sagaworks_server_rejections_total",
      "Calls this process refused before its handler ran, by reason.",
      {"reason"});
  metrics::Family& faults = registry.Counter(
      "sagaworks_injected_faults_total", "Faults injected by ChaosService.");
  metrics::Family& server_in_flight = registry.Gauge(
      "sagaworks_rpc_server_in_flight", "Calls this process is serving now.");
  registry.AddCollector([=, &state, &transitions, &failure_rate, &attempts,
                         &retries, &breaker_rejections, &bulkhead_rejections,
                         &budget, &in_flight, &rejected, &faults,
                         &server_in_flight] {
    v1::ResilienceStatus status;
    Describe(&status);
    for (const v1::DownstreamStatus& d : status.downstreams()) {
      for (const v1::BreakerStatus& b : d.breakers()) {
        const double value = b.state() == "open"        ? 1
                             : b.state() == "half_open" ? 2
                                                        : 0;
        state.With({d.name(), b.method()}).Set(value);
        transitions.With({d.name(), b.method()}).Set(b.transitions());
        failure_rate.With({d.name(), b.method()}).Set(b.failure_rate());
      }
      attempts.With({d.name()}).Set(d.attempts());
      retries.With({d.name()}).Set(d.retries());
      breaker_rejections.With({d.name()}).Set(d.breaker_rejections());
      bulkhead_rejections.With({d.name()}).Set(d.bulkhead_rejections());
      budget.With({d.name()}).Set(d.budget_exhausted());
      in_flight.With({d.name()}).Set(d.in_flight());
    }
    const v1::GuardStatus& g = status.guard();
    rejected.With({"deadline"}).Set(g.deadline_rejections());
    rejected.With({"concurrency"}).Set(g.concurrency_rejections());
    rejected.With({"rate_limit"}).Set(g.rate_limit_rejections());
    rejected.With({"unauthenticated"}).Set(g.unauthenticated());
    rejected.With({"permission_denied"}).Set(g.permission_denied());
    faults.With({}).Set(g.injected_faults());
    server_in_flight.With({}).Set(g.in_flight());
  });
  // The trace exporter's own health.
  metrics::Family& exported = registry.Counter(
      "sagaworks_trace_spans_exported_total", "Spans the collector accepted.");
  metrics::Family& dropped = registry.Counter(
      "sagaworks_trace_spans_dropped_total",
      "Spans dropped: exporter queue full, export failed or refused.");
  metrics::Family& failed = registry.Counter(
      "sagaworks_trace_exports_failed_total", "Export calls that failed.");
  registry.AddCollector([&exported, &dropped, &failed] {
    const trace::ExporterStats& s = trace::GlobalExporterStats();
    exported.With({}).Set(s.exported);
    dropped.With({}).Set(s.dropped);
    failed.With({}).Set(s.failed_exports);
  });
}

}  // namespace sagaworks::server
