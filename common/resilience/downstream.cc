#include "common/resilience/downstream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/status.h"

namespace sagaworks::resilience {
namespace {

constexpr char kAllMethods[] = "*";

std::optional<absl::string_view> PushbackTrailer(
    const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("grpc-retry-pushback-ms");
  if (it == trailers.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

absl::Status CallPolicy::Validate() const {
  if (attempt_timeout <= absl::ZeroDuration() ||
      total_timeout < attempt_timeout) {
    return absl::InvalidArgumentError(
        "attempt_timeout must be positive and at most total_timeout");
  }
  return retry.Validate();
}

absl::Status DownstreamConfig::Validate() const {
  if (absl::Status s = call.Validate(); !s.ok()) return s;
  for (const auto& [method, policy] : methods) {
    if (absl::Status s = policy.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("method ", method, ": ", s.message()));
    }
  }
  if (absl::Status s = breaker.Validate(); !s.ok()) return s;
  if (absl::Status s = bulkhead.Validate(); !s.ok()) return s;
  return retry_budget.Validate();
}

absl::Time InboundDeadline(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

bool CountsAgainstHealth(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

bool IsShedding(absl::StatusCode code, const Pushback& pushback) {
  return code == absl::StatusCode::kResourceExhausted &&
         pushback.kind == Pushback::Kind::kDelay;
}

// The families of every downstream's call metrics.
metrics::CallMetrics MakeCallMetrics(const std::string& downstream) {
  static metrics::Family& requests = metrics::Registry::Default().Counter(
      "sagaworks_rpc_client_requests_total",
      "Calls to other services, all attempts included, by final code.",
      {"downstream", "rpc_method", "code"});
  static metrics::Family& latency = metrics::Registry::Default().Histogram(
      "sagaworks_rpc_client_duration_seconds",
      "Time of calls to other services, retries and backoff included, by "
      "final code.",
      {"downstream", "rpc_method", "code"});
  return metrics::CallMetrics(requests, latency, downstream);
}

Downstream::Downstream(std::string name, DownstreamConfig config, Clock& clock,
                       uint64_t seed)
    : name_(std::move(name)),
      rpc_service_(name_),
      config_(std::move(config)),
      clock_(clock),
      open_status_(absl::UnavailableError(
          absl::StrCat(name_, ": circuit breaker open; call not sent"))),
      bulkhead_(config_.bulkhead),
      budget_(config_.retry_budget, clock),
      rng_(seed),
      call_metrics_(MakeCallMetrics(name_)) {
  if (!config_.breaker_per_method) shared_breaker_ = &BreakerFor(kAllMethods);
}

const CallPolicy& Downstream::PolicyFor(const std::string& method) const {
  if (config_.methods.empty()) return config_.call;
  auto it = config_.methods.find(method);
  return it == config_.methods.end() ? config_.call : it->second;
}

CircuitBreaker& Downstream::BreakerFor(const std::string& method) {
  if (shared_breaker_ != nullptr) return *shared_breaker_;
  const std::string key = config_.breaker_per_method ? method : kAllMethods;
  absl::MutexLock lock(&mu_);
  std::unique_ptr<CircuitBreaker>& breaker = breakers_[key];
  if (breaker == nullptr) {
    breaker = std::make_unique<CircuitBreaker>(
        key == kAllMethods ? name_ : absl::StrCat(name_, "/", key),
        config_.breaker, clock_);
  }
  return *breaker;
}

std::vector<std::pair<std::string, BreakerSnapshot>> Downstream::Breakers() {
  std::vector<std::pair<std::string, CircuitBreaker*>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, breaker] : breakers_) all.emplace_back(key, breaker.get());
  }
  std::vector<std::pair<std::string, BreakerSnapshot>> out;
  for (auto& [key, breaker] : all) out.emplace_back(key, breaker->Snapshot());
  return out;
}

double Downstream::Draw() {
  absl::MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

absl::Status Downstream::Finish(const CallOptions& options,
                                absl::Status status) {
  if (status.ok()) return status;
  ++stats_.failures;
  if (options.fallback) {
    ++stats_.fallbacks;
    return options.fallback(status);
  }
  return status;
}

// Attempting: the state of one call's retry loop.
struct Downstream::Attempting {
  Attempting(const Downstream& d, const std::string& method,
             const CallOptions& options, CircuitBreaker& breaker,
             absl::Time start)
      : method(method),
        policy(d.PolicyFor(method)),
        options(options),
        breaker(breaker),
        backoff(policy.retry),
        overall(std::min(start + policy.total_timeout, options.deadline)),
        parent(trace::CurrentContext()),
        span_name(absl::StrCat(d.rpc_service_, "/", method)) {}

  const std::string& method;
  const CallPolicy& policy;
  const CallOptions& options;
  CircuitBreaker& breaker;
  RetryBackoff backoff;
  const absl::Time overall;
  // The caller's span: every attempt's span is its child, whichever thread
  // makes the attempt.
  const trace::SpanContext parent;
  const std::string span_name;
  int n = 0;
  absl::Status last;
  // The current attempt's.
  absl::Time began;
  BreakerState before = BreakerState::kClosed;
  std::unique_ptr<trace::Span> span;
  std::optional<grpc::ClientContext> context;
};

// AsyncCall: a CallAsync in flight, kept alive by its callbacks.
struct Downstream::AsyncCall {
  AsyncCall(Downstream& d, const std::string& method_in, CallOptions options_in,
            AsyncAttempt attempt_in, Done done_in, CircuitBreaker& breaker,
            absl::Time start_in)
      : method(method_in),
        options(std::move(options_in)),
        attempt(std::move(attempt_in)),
        done(std::move(done_in)),
        start(start_in),
        a(d, method, options, breaker, start) {}

  const std::string method;
  const CallOptions options;
  const AsyncAttempt attempt;
  Done done;
  const absl::Time start;
  Attempting a;
};

std::optional<absl::Status> Downstream::PassBreaker(const std::string& method,
                                                    const CallOptions& options,
                                                    CircuitBreaker& breaker) {
  ++stats_.calls;
  if (breaker.TryAcquire()) return std::nullopt;
  ++stats_.breaker_rejections;
  // A span of its own, so a trace shows where the breaker refused; only
  // when it would be recorded, since failing fast must stay cheap.
  if (trace::Tracer::Get().exporting() && trace::CurrentContext().sampled()) {
    auto span = trace::Tracer::Get().StartSpan(
        absl::StrCat(rpc_service_, "/", method), trace::SpanKind::kClient);
    span->SetAttribute("rpc.system", std::string("grpc"));
    span->SetAttribute("rpc.service", rpc_service_);
    span->SetAttribute("rpc.method", method);
    span->AddEvent("circuit_breaker.rejected",
                   {{"sagaworks.downstream", name_}});
    span->SetError(open_status_.message());
  }
  absl::Status status = Finish(options, open_status_);
  // Refused at once: there is no latency to measure.
  call_metrics_.Record(method, status.code(), absl::ZeroDuration());
  return status;
}

absl::Status Downstream::BulkheadFull(const std::string& method,
                                      const CallOptions& options,
                                      CircuitBreaker& breaker,
                                      absl::Time start) {
  breaker.OnIgnored();
  ++stats_.bulkhead_rejections;
  absl::Status status = Finish(
      options, absl::ResourceExhaustedError(absl::StrCat(
                   name_, ": bulkhead full (", config_.bulkhead.max_concurrent,
                   " calls in flight)")));
  call_metrics_.Record(method, status.code(), clock_.Now() - start);
  return status;
}

absl::Status Downstream::Call(const std::string& method,
                              const CallOptions& options, Attempt attempt) {
  // The breaker first: when it is open, nothing else need be touched.
  CircuitBreaker& breaker = BreakerFor(method);
  if (std::optional<absl::Status> refused =
          PassBreaker(method, options, breaker)) {
    return *std::move(refused);
  }
  const absl::Time start = clock_.Now();
  if (!bulkhead_.TryEnter()) {
    return BulkheadFull(method, options, breaker, start);
  }
  budget_.RecordCall();
  Attempting a(*this, method, options, breaker, start);
  while (Prepare(a)) {
    const std::optional<absl::Duration> wait = Settle(a, attempt(*a.context));
    if (!wait.has_value()) break;
    clock_.SleepFor(*wait);
  }
  bulkhead_.Leave();
  absl::Status status = Finish(options, std::move(a.last));
  call_metrics_.Record(method, status.code(), clock_.Now() - start);
  return status;
}

void Downstream::CallAsync(const std::string& method, CallOptions options,
                           AsyncAttempt attempt, Done done) {
  CircuitBreaker& breaker = BreakerFor(method);
  if (std::optional<absl::Status> refused =
          PassBreaker(method, options, breaker)) {
    done(*std::move(refused));
    return;
  }
  auto call = std::make_shared<AsyncCall>(*this, method, std::move(options),
                                          std::move(attempt), std::move(done),
                                          breaker, clock_.Now());
  bulkhead_.EnterAsync(clock_, [this, call](bool granted) {
    if (!granted) {
      Done done = std::move(call->done);
      done(BulkheadFull(call->method, call->options, call->a.breaker,
                        call->start));
      return;
    }
    budget_.RecordCall();
    Next(call);
  });
}

void Downstream::Next(std::shared_ptr<AsyncCall> call) {
  Attempting& a = call->a;
  if (!Prepare(a)) {
    End(*call);
    return;
  }
  grpc::ClientContext* context = &*a.context;
  call->attempt(context, [this, call](grpc::Status status) {
    const std::optional<absl::Duration> wait = Settle(call->a, status);
    if (!wait.has_value()) {
      End(*call);
      return;
    }
    clock_.RunAfter(*wait, [this, call] { Next(call); });
  });
}

void Downstream::End(AsyncCall& call) {
  bulkhead_.Leave();
  absl::Status status = Finish(call.options, std::move(call.a.last));
  call_metrics_.Record(call.method, status.code(), clock_.Now() - call.start);
  // The caller may start its next call from `done`: let go of this one's
  // context first.
  call.a.context.reset();
  Done done = std::move(call.done);
  done(std::move(status));
}

bool Downstream::Prepare(Attempting& a) {
  ++a.n;
  if (a.n > 1 && !a.breaker.TryAcquire()) {
    ++stats_.breaker_rejections;
    // Failing fast is the point: no retry against an open breaker.
    a.last = absl::UnavailableError(
        absl::StrCat(name_, ": circuit breaker open; ", a.method,
                     " not retried (last error: ", a.last.message(), ")"));
    return false;
  }
  const absl::Time now = clock_.Now();
  const absl::Time deadline =
      std::min(now + a.policy.attempt_timeout, a.overall);
  if (deadline <= now) {
    a.breaker.OnIgnored();
    if (a.last.ok()) {
      a.last = absl::DeadlineExceededError(
          absl::StrCat(name_, ": no time left to call ", a.method));
    }
    return false;
  }
  // One client span per attempt, its context sent along as traceparent.
  a.span = trace::Tracer::Get().StartSpan(a.span_name, trace::SpanKind::kClient,
                                          &a.parent);
  a.before = a.breaker.state();
  if (a.span->recording()) {
    a.span->SetAttribute("rpc.system", std::string("grpc"));
    a.span->SetAttribute("rpc.service", rpc_service_);
    a.span->SetAttribute("rpc.method", a.method);
    a.span->SetAttribute("sagaworks.attempt", int64_t{a.n});
    a.span->SetAttribute("sagaworks.circuit_breaker.state",
                         std::string(BreakerStateName(a.before)));
    if (a.n > 1) {
      a.span->SetAttribute(
          "sagaworks.retry_reason",
          std::string(absl::StatusCodeToString(a.last.code())));
    }
  }
  // A fresh context per attempt: a ClientContext cannot be reused.
  a.context.reset();
  grpc::ClientContext& context = a.context.emplace();
  context.set_deadline(absl::ToChronoTime(deadline));
  for (const auto& [key, value] : a.options.metadata) {
    context.AddMetadata(key, value);
  }
  context.AddMetadata("traceparent",
                      trace::FormatTraceparent(a.span->context()));
  ++stats_.attempts;
  a.began = now;
  return true;
}

std::optional<absl::Duration> Downstream::Settle(Attempting& a,
                                                 const grpc::Status& status) {
  // The span ends when this attempt is settled, whichever way.
  const std::unique_ptr<trace::Span> span = std::move(a.span);
  a.last = FromGrpcStatus(status);
  const absl::Duration took = clock_.Now() - a.began;
  const Pushback asked =
      a.last.ok() ? Pushback{} : ParsePushback(PushbackTrailer(*a.context));
  if (a.last.code() == absl::StatusCode::kCancelled ||
      IsShedding(a.last.code(), asked)) {
    a.breaker.OnIgnored();
  } else if (CountsAgainstHealth(a.last.code())) {
    a.breaker.OnFailure(took);
  } else {
    a.breaker.OnSuccess(took);
  }
  if (span->recording()) {
    span->SetAttribute("rpc.grpc.status_code",
                       static_cast<int64_t>(a.last.code()));
    const BreakerState after = a.breaker.state();
    if (after != a.before) {
      span->AddEvent("circuit_breaker.transition",
                     {{"sagaworks.downstream", name_},
                      {"from", std::string(BreakerStateName(a.before))},
                      {"to", std::string(BreakerStateName(after))}});
    }
    if (a.last.ok()) {
      span->SetOk();
    } else {
      span->SetError(a.last.message());
    }
  }
  if (a.last.ok() || !IsRetryable(a.last.code(), a.options.idempotent) ||
      a.n >= a.policy.retry.max_attempts) {
    return std::nullopt;
  }
  const Pushback pushback = a.policy.retry.honor_pushback ? asked : Pushback{};
  if (pushback.kind == Pushback::Kind::kStop) return std::nullopt;
  const absl::Duration wait = pushback.kind == Pushback::Kind::kDelay
                                  ? pushback.delay
                                  : a.backoff.Next(Draw());
  if (clock_.Now() + wait >= a.overall) return std::nullopt;
  if (!budget_.TryRetry()) {
    ++stats_.budget_exhausted;
    span->AddEvent("retry_budget.exhausted");
    return std::nullopt;
  }
  ++stats_.retries;
  span->AddEvent("retry",
                 {{"sagaworks.retry_reason",
                   std::string(absl::StatusCodeToString(a.last.code()))},
                  {"sagaworks.backoff_ms", absl::ToInt64Milliseconds(wait)}});
  return wait;
}

}  // namespace sagaworks::resilience
