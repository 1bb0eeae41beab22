#include "orchestrator/saga_runner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace sagaworks::orchestrator {

absl::Status SagaRunnerConfig::Validate() const {
  if (workers < 1 || workers > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("workers ", workers, " is outside [1, 1024]"));
  }
  return policy.Validate();
}

SagaRunner::SagaRunner(SagaStore& store, Participants& participants,
                       Clock& clock, SagaRunnerConfig config)
    : store_(store),
      participants_(participants),
      clock_(clock),
      config_(std::move(config)),
      rng_(config_.seed),
      scheduler_(config_.workers, clock,
                 [this](const std::string& id) { Drive(id); }) {}

SagaRunner::~SagaRunner() { Stop(); }

absl::Status SagaRunner::Start() {
  scheduler_.Start();
  auto unfinished = store_.Unfinished();
  if (!unfinished.ok()) return unfinished.status();
  for (const auto& [saga_id, due] : *unfinished) {
    scheduler_.Schedule(saga_id, due);
  }
  if (!unfinished->empty()) {
    LogInfo(absl::StrCat("resuming ", unfinished->size(), " unfinished sagas"));
  }
  return absl::OkStatus();
}

void SagaRunner::Stop() { scheduler_.Stop(); }

void SagaRunner::Enqueue(const std::string& saga_id) {
  scheduler_.Schedule(saga_id, clock_.Now());
}

double SagaRunner::Draw() {
  absl::MutexLock lock(&rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void SagaRunner::Drive(const std::string& saga_id) {
  absl::StatusOr<SagaRecord> loaded = store_.Load(saga_id);
  if (!loaded.ok()) {
    LogWarning(absl::StrCat("saga ", saga_id,
                            ": cannot load: ", loaded.status().message()));
    scheduler_.Schedule(saga_id, clock_.Now() + config_.store_retry);
    return;
  }
  SagaRecord record = *std::move(loaded);
  while (true) {
    const std::optional<SagaCall> call = NextCall(record.state);
    if (!call.has_value()) return;  // finished

    // The attempt is committed before the call goes out, so a crash between
    // the two leaves a record that the call may have been made.
    const absl::Time start = clock_.Now();
    const SagaState begun = BeginCall(record.state, start, config_.policy);
    StepLogEntry entry{call->step, std::string(call->name),
                       call->kind, begun.attempt,
                       "started",  ""};
    absl::StatusOr<int64_t> version =
        store_.Commit(record, begun, entry, start);
    if (!version.ok()) {
      if (!absl::IsAborted(version.status())) {
        scheduler_.Schedule(saga_id, clock_.Now() + config_.store_retry);
      }
      LogWarning(absl::StrCat("saga ", saga_id, ": cannot record attempt: ",
                              version.status().message()));
      return;
    }
    record.state = begun;
    record.version = *version;

    // Past the pivot there is no step deadline: the downstream's own call
    // budget bounds each attempt, and the saga retries until it succeeds.
    const absl::Time deadline =
        begun.step_deadline.value_or(absl::InfiniteFuture());
    const CallResult result = participants_.Invoke(
        saga_id, *call, record.request, record.state, deadline);

    const absl::Time now = clock_.Now();
    Transition t =
        Advance(record.state, result.status, now, config_.policy, Draw());
    if (call->kind == CallKind::kAction && call->step == kReserveStock &&
        result.status.ok()) {
      t.next.total_cents = result.total_cents;
    }
    entry.outcome = std::string(StepOutcomeName(t.outcome));
    entry.error = result.status.ok() ? "" : DescribeStatus(result.status);
    const absl::Time next_at = now + t.retry_after;
    version = store_.Commit(record, t.next, entry, next_at);
    if (!version.ok()) {
      // The call's result is lost; the saga re-sends the call when it runs
      // again, and the service answers it idempotently.
      if (!absl::IsAborted(version.status())) {
        scheduler_.Schedule(saga_id, now + config_.store_retry);
      }
      LogWarning(absl::StrCat("saga ", saga_id, ": cannot record outcome: ",
                              version.status().message()));
      return;
    }
    record.state = t.next;
    record.version = *version;
    if (t.outcome == StepOutcome::kRetrying) {
      scheduler_.Schedule(saga_id, next_at);
      return;
    }
    if (IsTerminal(record.state.status)) {
      LogInfo(absl::StrCat(
          "saga ", saga_id, " ", SagaStatusName(record.state.status),
          record.state.failure_reason.empty()
              ? ""
              : absl::StrCat(": ", record.state.failure_reason)));
    }
  }
}

}  // namespace sagaworks::orchestrator
