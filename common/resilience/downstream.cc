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

absl::Status Downstream::Call(const std::string& method,
                              const CallOptions& options, Attempt attempt) {
  ++stats_.calls;
  absl::Status status;
  // The breaker first: when it is open, nothing else need be touched.
  CircuitBreaker& breaker = BreakerFor(method);
  if (!breaker.TryAcquire()) {
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
    status = Finish(options, open_status_);
    // Refused at once: there is no latency to measure.
    call_metrics_.Record(method, status.code(), absl::ZeroDuration());
    return status;
  }
  const absl::Time start = clock_.Now();
  if (!bulkhead_.TryEnter()) {
    breaker.OnIgnored();
    ++stats_.bulkhead_rejections;
    status = Finish(options,
                    absl::ResourceExhaustedError(absl::StrCat(
                        name_, ": bulkhead full (",
                        config_.bulkhead.max_concurrent, " calls in flight)")));
  } else {
    status = Attempts(method, options, breaker, attempt);
    bulkhead_.Leave();
  }
  call_metrics_.Record(method, status.code(), clock_.Now() - start);
  return status;
}

absl::Status Downstream::Attempts(const std::string& method,
                                  const CallOptions& options,
                                  CircuitBreaker& breaker, Attempt attempt) {
  const CallPolicy& policy = PolicyFor(method);
  RetryBackoff backoff(policy.retry);
  budget_.RecordCall();
  const absl::Time start = clock_.Now();
  const absl::Time overall =
      std::min(start + policy.total_timeout, options.deadline);
  const std::string span_name = absl::StrCat(rpc_service_, "/", method);
  absl::Status last;
  for (int n = 1;; ++n) {
    if (n > 1 && !breaker.TryAcquire()) {
      ++stats_.breaker_rejections;
      // Failing fast is the point: no retry against an open breaker.
      return Finish(options,
                    absl::UnavailableError(absl::StrCat(
                        name_, ": circuit breaker open; ", method,
                        " not retried (last error: ", last.message(), ")")));
    }
    const absl::Time now = clock_.Now();
    const absl::Time deadline = std::min(now + policy.attempt_timeout, overall);
    if (deadline <= now) {
      breaker.OnIgnored();
      return Finish(options,
                    last.ok() ? absl::DeadlineExceededError(absl::StrCat(
                                    name_, ": no time left to call ", method))
                              : last);
    }
    // One client span per attempt, its context sent along as traceparent.
    auto span =
        trace::Tracer::Get().StartSpan(span_name, trace::SpanKind::kClient);
    const BreakerState before = breaker.state();
    if (span->recording()) {
      span->SetAttribute("rpc.system", std::string("grpc"));
      span->SetAttribute("rpc.service", rpc_service_);
      span->SetAttribute("rpc.method", method);
      span->SetAttribute("sagaworks.attempt", int64_t{n});
      span->SetAttribute("sagaworks.circuit_breaker.state",
                         std::string(BreakerStateName(before)));
      if (n > 1) {
        span->SetAttribute("sagaworks.retry_reason",
                           std::string(absl::StatusCodeToString(last.code())));
      }
    }
    // A fresh context per attempt: a ClientContext cannot be reused.
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    for (const auto& [key, value] : options.metadata) {
      context.AddMetadata(key, value);
    }
    context.AddMetadata("traceparent",
                        trace::FormatTraceparent(span->context()));
    ++stats_.attempts;
    last = FromGrpcStatus(attempt(context));
    const absl::Duration took = clock_.Now() - now;
    const Pushback asked =
        last.ok() ? Pushback{} : ParsePushback(PushbackTrailer(context));
    if (last.code() == absl::StatusCode::kCancelled ||
        IsShedding(last.code(), asked)) {
      breaker.OnIgnored();
    } else if (CountsAgainstHealth(last.code())) {
      breaker.OnFailure(took);
    } else {
      breaker.OnSuccess(took);
    }
    if (span->recording()) {
      span->SetAttribute("rpc.grpc.status_code",
                         static_cast<int64_t>(last.code()));
      const BreakerState after = breaker.state();
      if (after != before) {
        span->AddEvent("circuit_breaker.transition",
                       {{"sagaworks.downstream", name_},
                        {"from", std::string(BreakerStateName(before))},
                        {"to", std::string(BreakerStateName(after))}});
      }
      if (last.ok()) {
        span->SetOk();
      } else {
        span->SetError(last.message());
      }
    }
    if (last.ok() || !IsRetryable(last.code(), options.idempotent) ||
        n >= policy.retry.max_attempts) {
      return Finish(options, last);
    }
    const Pushback pushback = policy.retry.honor_pushback ? asked : Pushback{};
    if (pushback.kind == Pushback::Kind::kStop) return Finish(options, last);
    const absl::Duration wait = pushback.kind == Pushback::Kind::kDelay
                                    ? pushback.delay
                                    : backoff.Next(Draw());
    if (clock_.Now() + wait >= overall) return Finish(options, last);
    if (!budget_.TryRetry()) {
      ++stats_.budget_exhausted;
      span->AddEvent("retry_budget.exhausted");
      return Finish(options, last);
    }
    ++stats_.retries;
    span->AddEvent("retry",
                   {{"sagaworks.retry_reason",
                     std::string(absl::StatusCodeToString(last.code()))},
                    {"sagaworks.backoff_ms", absl::ToInt64Milliseconds(wait)}});
    span->End();
    clock_.SleepFor(wait);
  }
}

}  // namespace sagaworks::resilience
