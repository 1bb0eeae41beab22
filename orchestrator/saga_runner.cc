#include "orchestrator/saga_runner.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/status.h"

namespace sagaworks::orchestrator {

absl::Status SagaRunnerConfig::Validate() const {
  if (workers < 1 || workers > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("workers ", workers, " is outside [1, 1024]"));
  }
  if (max_in_flight < 1 || max_in_flight > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max in flight ", max_in_flight, " is outside [1, 100000]"));
  }
  if (claim_batch < 1 || claim_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "claim_batch and claim_interval must be positive");
  }
  if (stuck_after <= absl::ZeroDuration() ||
      stuck_count_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "stuck_after and stuck_count_interval must be positive");
  }
  if (max_backlog < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max backlog ", max_backlog, " is negative"));
  }
  return absl::OkStatus();
}

SagaRunner::SagaRunner(SagaLog& store, SagaDefinition definition,
                       Participants& participants, Clock& clock,
                       SagaRunnerConfig config)
    : store_(store),
      definition_(std::move(definition)),
      participants_(participants),
      clock_(clock),
      config_(std::move(config)),
      rng_(config_.seed),
      scheduler_(config_.workers, config_.max_in_flight, clock,
                 [this](const std::string& id) { Drive(id); }) {}

SagaRunner::~SagaRunner() { Stop(); }

absl::Status SagaRunner::Start() {
  if (config_.start_threads) scheduler_.Start();
  absl::StatusOr<size_t> resumed = ClaimAll(/*include_own=*/true);
  if (!resumed.ok()) return resumed.status();
  if (*resumed > 0) {
    LogInfo(absl::StrCat("resuming ", *resumed, " unfinished sagas"));
  }
  next_renewal_ = clock_.Now() + store_.lease().duration / 3;
  if (config_.start_threads) {
    lease_thread_ = std::thread([this] { LeaseLoop(); });
  }
  return absl::OkStatus();
}

void SagaRunner::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (lease_thread_.joinable()) lease_thread_.join();
  // Waits for the calls out (each bounded by its downstream's call budget)
  // and the commits of their answers.
  scheduler_.Stop();
  // No call is out any more: hand the sagas over.
  if (absl::Status s = store_.ReleaseLeases(); !s.ok()) {
    LogWarning(
        absl::StrCat("cannot release saga leases (others take them "
                     "when they expire): ",
                     s.message()));
  }
}

void SagaRunner::Enqueue(const std::string& saga_id) {
  {
    absl::MutexLock lock(&fresh_mu_);
    fresh_.erase(saga_id);
  }
  scheduler_.Schedule(saga_id, clock_.Now());
}

Decision SagaRunner::BeginFirstCall() const {
  // The step's time starts when its call goes out (Drive), not here: a new
  // saga may wait behind others first.
  return FirstCall(definition_, clock_.Now());
}

void SagaRunner::EnqueueNew(SagaRecord record) {
  const std::string saga_id = record.saga_id;
  {
    absl::MutexLock lock(&fresh_mu_);
    fresh_.insert_or_assign(saga_id, std::move(record));
  }
  scheduler_.Schedule(saga_id, clock_.Now());
}

std::optional<SagaRunner::Admission> SagaRunner::Admit() {
  absl::MutexLock lock(&admit_mu_);
  if (config_.max_backlog > 0 &&
      backlog() + admitting_ >= static_cast<size_t>(config_.max_backlog)) {
    return std::nullopt;
  }
  ++admitting_;
  return std::optional<Admission>(std::in_place, this);
}

SagaRunner::Admission::~Admission() {
  absl::MutexLock lock(&runner_->admit_mu_);
  --runner_->admitting_;
}

absl::StatusOr<size_t> SagaRunner::ClaimAll(bool include_own) {
  size_t total = 0;
  while (true) {
    int batch = config_.claim_batch;
    // Others' sagas only while there is room for them; its own are this
    // orchestrator's to finish whatever its backlog.
    if (!include_own && config_.max_backlog > 0) {
      const int64_t room = static_cast<int64_t>(config_.max_backlog) -
                           static_cast<int64_t>(backlog());
      if (room <= 0) return total;
      batch = static_cast<int>(std::min<int64_t>(batch, room));
    }
    absl::StatusOr<SagaLog::DueSagas> claimed =
        store_.Claim(batch, include_own);
    if (!claimed.ok()) return claimed.status();
    for (const auto& [saga_id, due] : *claimed) {
      scheduler_.Schedule(saga_id, due);
    }
    total += claimed->size();
    if (static_cast<int>(claimed->size()) < batch) return total;
    // Own sagas just claimed now count as held, so the loop ends.
  }
}

void SagaRunner::LeaseLoop() {
  absl::MutexLock lock(&stop_mu_);
  while (true) {
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stop_mu_) {
      return stopping_.load();
    };
    if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                  config_.claim_interval)) {
      return;
    }
    stop_mu_.Unlock();
    Tick();
    stop_mu_.Lock();
  }
}

size_t SagaRunner::Tick() {
  static metrics::Family& held = metrics::Registry::Default().Gauge(
      "sagaworks_saga_backlog",
      "Sagas this orchestrator holds that wait for their turn or a backoff.");
  held.With({}).Set(static_cast<double>(backlog()));
  static metrics::Family& driven = metrics::Registry::Default().Gauge(
      "sagaworks_sagas_in_flight",
      "Sagas this orchestrator is driving (a call out or a commit waiting), "
      "at most --max-in-flight.");
  driven.With({}).Set(static_cast<double>(in_flight()));
  const absl::Time now = clock_.Now();
  if (now >= next_renewal_) {
    // Renewing three times a lease keeps it alive through two missed
    // renewals. Only sagas this orchestrator holds in memory are renewed: one
    // it lost track of lets its lease run out and is claimed again below,
    // here or by another orchestrator.
    next_renewal_ = now + store_.lease().duration / 3;
    if (absl::StatusOr<int64_t> renewed = store_.RenewLeases(scheduler_.Held());
        !renewed.ok()) {
      LogWarning(absl::StrCat("cannot renew saga leases: ",
                              renewed.status().message()));
    }
  }
  if (now >= next_stuck_count_) {
    next_stuck_count_ = now + config_.stuck_count_interval;
    static metrics::Family& stuck = metrics::Registry::Default().Gauge(
        "sagaworks_sagas_stuck",
        "Unfinished sagas (all orchestrators') whose current call has been "
        "retrying, or that have been due without being driven, longer than "
        "--stuck-after-seconds.");
    if (absl::StatusOr<int64_t> n = store_.CountStuck(config_.stuck_after);
        n.ok()) {
      stuck.With({}).Set(static_cast<double>(*n));
    } else {
      LogWarning(
          absl::StrCat("cannot count stuck sagas: ", n.status().message()));
    }
  }
  absl::StatusOr<size_t> claimed = ClaimAll(/*include_own=*/false);
  if (!claimed.ok()) {
    LogWarning(
        absl::StrCat("cannot claim sagas: ", claimed.status().message()));
    return 0;
  }
  if (*claimed > 0) {
    LogInfo(absl::StrCat("took over ", *claimed, " sagas whose lease expired"));
  }
  return *claimed;
}

double SagaRunner::Draw() {
  absl::MutexLock lock(&rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void SagaRunner::RecordStep(trace::Span& span, const std::string& saga_id,
                            const SagaCall& call, int attempt,
                            const Decision& d, const absl::Status& result,
                            absl::Duration took) {
  static metrics::Family& latency = metrics::Registry::Default().Histogram(
      "sagaworks_saga_step_duration_seconds",
      "Time of one saga call (an action or a compensation), by outcome.",
      {"step", "kind", "outcome"});
  const std::string kind(CallKindName(call.kind));
  const std::string outcome(
      StepOutcomeName(d.outcome.value_or(StepOutcome::kFailed)));
  latency.Histogram({call.name, kind, outcome})
      .Observe(absl::ToDoubleSeconds(took));
  if (!span.recording()) return;
  span.SetAttribute("sagaworks.saga_id", saga_id);
  span.SetAttribute("sagaworks.saga.step", static_cast<int64_t>(call.step));
  span.SetAttribute("sagaworks.saga.call", call.name);
  span.SetAttribute("sagaworks.saga.kind", kind);
  span.SetAttribute("sagaworks.saga.attempt", static_cast<int64_t>(attempt));
  span.SetAttribute("sagaworks.saga.outcome", outcome);
  if (d.state.status != SagaStatus::kRunning) {
    span.SetAttribute("sagaworks.saga.status",
                      std::string(SagaStatusName(d.state.status)));
  }
  if (result.ok()) {
    span.SetOk();
  } else {
    span.SetError(DescribeStatus(result));
  }
}

struct SagaRunner::Flight {
  std::string saga_id;
  SagaRecord record;
  // It came from EnqueueNew: it may be overtaken before its first commit.
  bool from_creation = false;
  // Every step joins the trace of the call that started the saga, whichever
  // orchestrator runs it and however often it restarted.
  std::optional<trace::SpanContext> saga_trace;
  Decision decision;
  // A step's span covers the commit that records its attempt, the call, and
  // (for the last step) the commit of the outcome, so every commit and log
  // line of the saga lands in its trace.
  std::unique_ptr<trace::Span> span;
  // The call out, and when it went.
  SagaCall call;
  std::string key;
  absl::Time call_start;
};

void SagaRunner::Drive(const std::string& saga_id) {
  auto f = std::make_shared<Flight>();
  f->saga_id = saga_id;
  // A saga just created comes with its record, its first call begun.
  std::optional<SagaRecord> fresh;
  {
    absl::MutexLock lock(&fresh_mu_);
    if (auto it = fresh_.find(saga_id); it != fresh_.end()) {
      fresh = std::move(it->second);
      fresh_.erase(it);
    }
  }
  // A stored record may be overtaken (CancelSaga moved the saga before it
  // ran): when it lost the race it is loaded again rather than left alone.
  f->from_creation = fresh.has_value();
  if (!fresh.has_value()) {
    absl::StatusOr<SagaRecord> loaded = store_.Load(saga_id);
    if (!loaded.ok()) {
      LogWarning(absl::StrCat("saga ", saga_id,
                              ": cannot load: ", loaded.status().message()));
      if (!absl::IsNotFound(loaded.status())) {
        scheduler_.Schedule(saga_id, clock_.Now() + config_.store_retry);
      }
      scheduler_.Done(saga_id);
      return;
    }
    fresh = *std::move(loaded);
  }
  f->record = *std::move(fresh);
  f->saga_trace = trace::ParseTraceparent(f->record.traceparent);
  const absl::Time now = clock_.Now();
  f->decision = Decide(
      definition_, f->record.state,
      f->from_creation ? Event::FirstCallStored(now) : Event::Resume(now));
  Advance(std::move(f));
}

void SagaRunner::Advance(std::shared_ptr<Flight> f) {
  const Decision& d = f->decision;
  if (d.call.has_value()) {
    f->span = trace::Tracer::Get().StartSpanUnder(
        absl::StrCat("saga ", d.call->name), trace::SpanKind::kInternal,
        f->saga_trace.has_value() ? &*f->saga_trace : nullptr);
  }
  if (!d.commit) {
    Sent(std::move(f), std::nullopt);
    return;
  }
  // The attempt is committed before its call goes out, so a crash between
  // the two leaves a record that the call may have been made.
  std::optional<trace::ScopedContext> in_span;
  if (f->span != nullptr) in_span.emplace(f->span->context());
  Flight& flight = *f;
  store_.CommitAsync(flight.record, flight.decision.state, flight.decision.log,
                     flight.decision.due(clock_.Now()),
                     /*may_wait=*/Scheduler::OnRunThread(),
                     [this, f = std::move(f)](absl::StatusOr<int64_t> version) {
                       Sent(f, std::move(version));
                     });
}

void SagaRunner::Sent(std::shared_ptr<Flight> f,
                      std::optional<absl::StatusOr<int64_t>> committed) {
  const std::string& saga_id = f->saga_id;
  const Decision& d = f->decision;
  std::optional<trace::ScopedContext> in_span;
  if (f->span != nullptr) in_span.emplace(f->span->context());
  if (committed.has_value()) {
    if (!committed->ok()) {
      const absl::Status& status = committed->status();
      if (!IsLostRace(status)) {
        // The database failed (unreachable, a lock timeout, a deadlock):
        // the saga stays this orchestrator's and runs again from what was
        // stored. A call's result lost here is asked for again, and the
        // service answers idempotently.
        scheduler_.Schedule(saga_id, clock_.Now() + config_.store_retry);
      } else if (f->from_creation) {
        scheduler_.Schedule(saga_id, clock_.Now());
      }
      // Otherwise whoever moved the saga (CancelSaga, or the orchestrator
      // that took the lease) drives it now.
      LogWarning(absl::StrCat("saga ", saga_id,
                              ": cannot commit: ", status.message()));
      scheduler_.Done(saga_id);
      return;
    }
    f->record.version = **committed;
  }
  f->record.state = d.state;
  if (d.call.has_value()) {
    if (stopping_) {
      scheduler_.Done(saga_id);
      return;
    }
    f->call = *d.call;
    f->key = SagaCallKey(saga_id, f->call);
    f->call_start = clock_.Now();
    const SagaRecord& record = f->record;
    // Steps that retry forever have no deadline: the downstream's own call
    // budget bounds each attempt.
    const CallInput input{
        saga_id,
        f->call,
        record.request,
        record.state,
        record.state.step_deadline.value_or(absl::InfiniteFuture()),
        f->key};
    calls_out_.fetch_add(1, std::memory_order_relaxed);
    participants_.Invoke(input, [this, f](CallResult result) {
      calls_out_.fetch_sub(1, std::memory_order_relaxed);
      Answered(f, std::move(result));
    });
    return;
  }
  if (d.wake_at.has_value()) {
    scheduler_.Schedule(saga_id, *d.wake_at);
  } else if (IsTerminal(f->record.state.status) && d.commit) {
    static metrics::Family& finished = metrics::Registry::Default().Counter(
        "sagaworks_sagas_finished_total",
        "Sagas that ended, by final status (completed, compensated, "
        "failed).",
        {"status"});
    const SagaState& state = f->record.state;
    finished.With({std::string(SagaStatusName(state.status))}).Add(1);
    LogInfo(absl::StrCat("saga ", saga_id, " ", SagaStatusName(state.status),
                         state.failure_reason.empty()
                             ? ""
                             : absl::StrCat(": ", state.failure_reason)));
  }
  scheduler_.Done(saga_id);
}

void SagaRunner::Answered(std::shared_ptr<Flight> f, CallResult result) {
  const absl::Time end = clock_.Now();
  f->decision =
      Decide(definition_, f->record.state,
             Event::Answered(result.status, end, Draw(), result.context));
  RecordStep(*f->span, f->saga_id, f->call, f->record.state.attempt,
             f->decision, result.status, end - f->call_start);
  Advance(std::move(f));
}

}  // namespace sagaworks::orchestrator
