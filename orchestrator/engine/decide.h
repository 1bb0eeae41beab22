// The saga engine's one transition: Decide(definition, state, event) is the
// saga's next state, what to log with it, and what to do once that is
// committed (make a call, wait until a time, or nothing: the saga ended).
// Pure: no I/O, no clock, no randomness of its own, so every path is tested
// with fixed times and draws, and the runner (saga_runner.h) only does I/O.
#ifndef SAGAWORKS_ORCHESTRATOR_ENGINE_DECIDE_H_
#define SAGAWORKS_ORCHESTRATOR_ENGINE_DECIDE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "orchestrator/engine/saga_definition.h"

namespace sagaworks::orchestrator {

enum class SagaStatus {
  kRunning,
  kCompleted,
  kCompensating,
  kCompensated,
  kFailed
};

// SagaStatusName is the database and display name: "running", ...
absl::string_view SagaStatusName(SagaStatus status);
std::optional<SagaStatus> ParseSagaStatus(absl::string_view name);
bool IsTerminal(SagaStatus status);

enum class CallKind { kAction, kCompensation };
// CallKindName is "action" or "compensation", as the step log has it.
absl::string_view CallKindName(CallKind kind);

// SagaCall is one call the saga makes.
struct SagaCall {
  // The step it does or undoes (1-based); 0 for the closing call.
  int step = 0;
  CallKind kind = CallKind::kAction;
  std::string name;  // "reserve_stock", "release_stock", ...
};

struct SagaState {
  SagaStatus status = SagaStatus::kRunning;
  // Running: the step to do next (1..size). Compensating: the step being
  // undone, 0 for the closing call. Completed: the last step.
  int current_step = 1;
  // Attempts made so far at the current call.
  int attempt = 0;
  // When the current step stops retrying (kUntilStepDeadline); set at its
  // first attempt.
  std::optional<absl::Time> step_deadline;
  std::string failure_reason;
  // What the steps' results left for later ones: a serialized message of
  // the definition's own context type, opaque to the engine.
  std::string context;
  // A cancel was accepted: the closing call says so.
  bool cancel_requested = false;
  // The step whose compensation was refused. While the saga is still
  // compensating, its next call is the definition's on_failed.
  std::optional<int> failed_step;
  // Timeline entries written so far (their ids are 1..this), and the entry
  // of the current call, which its later attempts and outcome update.
  int64_t timeline_entries = 0;
  int64_t call_entry = 0;
};

enum class StepOutcome { kStarted, kSucceeded, kFailed, kRetrying };
absl::string_view StepOutcomeName(StepOutcome outcome);

// A timeline entry to write with the state: a new one, or an update of the
// current call's (same `id`).
struct StepLogEntry {
  int step = 0;
  std::string name;
  CallKind kind = CallKind::kAction;
  int attempt = 0;
  std::string outcome;  // "started", "succeeded", "failed", "retrying"
  std::string error;
  // An operator's action: who took it and why (attempt 0, no call).
  std::string actor;
  std::string note;
  // Which entry of the saga's timeline (1-based).
  int64_t id = 0;
};

// How an operator closes a saga after setting the world right by hand.
enum class Resolution {
  // Everything the saga did is undone: it makes its closing call (the order
  // saga rejects the order) and is COMPENSATED.
  kCompensated,
  // Everything the saga does took effect: it makes the steps that cannot be
  // undone (the order saga approves the order) and is COMPLETED.
  kCompleted,
};

// IsBusinessFailure tells a refusal that retrying cannot change
// (FAILED_PRECONDITION, NOT_FOUND, INVALID_ARGUMENT, ...) from a transient
// failure (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
bool IsBusinessFailure(const absl::Status& status);

struct Event {
  enum class Kind {
    // Make the current call now: after a crash, when a backoff ended, or
    // when a saga is first driven. Begins a new attempt.
    kResume,
    // A new saga was stored with its first attempt begun (FirstCall): make
    // that call without beginning another.
    kFirstCallStored,
    // The current call answered `status`; on success `context`, when set,
    // replaces the saga's context.
    kAnswered,
    // Someone asked to cancel, with `reason`.
    kCancel,
    // An operator (`actor`) retries the refused compensation of a FAILED
    // saga, noting `reason`.
    kRetry,
    // An operator (`actor`) closes the saga as `resolution`, noting
    // `reason`: a FAILED saga, or one that is still retrying.
    kResolve,
  };
  Kind kind = Kind::kResume;
  absl::Time now;
  absl::Status status;
  std::optional<std::string> context;
  std::string reason;
  // A draw from [0, 1) for backoff jitter.
  double uniform01 = 0.5;
  std::string actor;
  Resolution resolution = Resolution::kCompensated;

  static Event Resume(absl::Time now);
  static Event FirstCallStored(absl::Time now);
  static Event Answered(absl::Status status, absl::Time now, double uniform01,
                        std::optional<std::string> context = std::nullopt);
  static Event Cancel(std::string reason, absl::Time now);
  static Event Retry(std::string actor, std::string note, absl::Time now);
  static Event Resolve(Resolution resolution, std::string actor,
                       std::string note, absl::Time now);
};

struct Decision {
  SagaState state;
  // Appended to the step log with `state`.
  std::vector<StepLogEntry> log;
  // Whether state and log must be committed before acting; false only when
  // nothing that must survive a crash changed.
  bool commit = true;
  // Make this call once committed.
  std::optional<SagaCall> call;
  // Or, with no call: wait until then, then Resume. Neither: the saga ended.
  std::optional<absl::Time> wake_at;
  // kAnswered: what the answered call's outcome was.
  std::optional<StepOutcome> outcome;
  // kCancel, kRetry or kResolve refused (the saga is not in a state that
  // allows it): FAILED_PRECONDITION, and nothing else is set.
  absl::Status refused;

  // When the saga is next due, for the store's schedule.
  absl::Time due(absl::Time now) const { return wake_at.value_or(now); }
};

// CurrentCall is the call a saga in `state` makes next, or nullopt when it
// has ended (or stands where `definition` has no call: Decide fails it).
std::optional<SagaCall> CurrentCall(const SagaDefinition& definition,
                                    const SagaState& state);

Decision Decide(const SagaDefinition& definition, const SagaState& state,
                const Event& event);

// FirstCall is what a new saga is stored with: its first attempt begun,
// without a step deadline (that starts when the call goes out), and the
// attempt's log entry.
Decision FirstCall(const SagaDefinition& definition, absl::Time now);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_ENGINE_DECIDE_H_
