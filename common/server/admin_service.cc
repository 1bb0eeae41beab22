#include "common/server/admin_service.h"

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
    grpc::ServerContext*, const v1::GetResilienceStatusRequest*,
    v1::ResilienceStatus* response) {
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
  return grpc::Status::OK;
}

}  // namespace sagaworks::server
