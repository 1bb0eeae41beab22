#include "orchestrator/engine/decide.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace sagaworks::orchestrator {
namespace {

// The step to undo first when undoing from `from` down: the highest at or
// below it that has a compensation, else 0 (the closing call).
int UndoFrom(const SagaDefinition& d, int from) {
  for (int n = std::min(from, d.size()); n >= 1; --n) {
    if (!d.step(n).compensation.empty()) return n;
  }
  return 0;
}

// Moves to the compensating phase, undoing steps `from` down to 1; a saga
// with nothing to undo and no closing call is compensated at once.
SagaState StartCompensating(const SagaDefinition& d, SagaState state, int from,
                            std::string reason) {
  state.status = SagaStatus::kCompensating;
  state.current_step = UndoFrom(d, from);
  state.attempt = 0;
  state.step_deadline.reset();
  state.failure_reason = std::move(reason);
  if (state.current_step == 0 && d.on_compensated.empty()) {
    state.status = SagaStatus::kCompensated;
  }
  return state;
}

SagaState AtStep(SagaState state, int step) {
  state.current_step = step;
  state.attempt = 0;
  state.step_deadline.reset();
  return state;
}

// Begins the current call: one more attempt, the step's clock started on a
// forward step that retries until its deadline, and the attempt's log entry.
void BeginCall(const SagaDefinition& d, absl::Time now, Decision& out) {
  const std::optional<SagaCall> call = CurrentCall(d, out.state);
  if (!call.has_value()) return;
  SagaState& s = out.state;
  if (s.status == SagaStatus::kRunning &&
      d.step(s.current_step).retry.kind ==
          RetryPolicy::Kind::kUntilStepDeadline &&
      !s.step_deadline.has_value()) {
    s.step_deadline = now + d.policy.step_timeout;
  }
  ++s.attempt;
  // A call's first attempt opens its timeline entry; later ones update it.
  if (s.attempt == 1) s.call_entry = ++s.timeline_entries;
  out.log.push_back({call->step, call->name, call->kind, s.attempt, "started",
                     "", "", "", s.call_entry});
  out.call = call;
}

// A state this definition has no call for, and that has not ended, would sit
// unseen: it fails instead, for an operator to look at.
Decision Stranded(const SagaDefinition& d, const SagaState& state) {
  Decision out;
  out.state = state;
  out.state.status = SagaStatus::kFailed;
  out.state.failure_reason = absl::StrCat(
      state.failure_reason, state.failure_reason.empty() ? "" : "; ",
      "the saga stands at step ", state.current_step, " (",
      SagaStatusName(state.status), "), which the \"", d.type,
      "\" definition has no call for");
  return out;
}

Decision Answered(const SagaDefinition& d, const SagaState& state,
                  const SagaCall& call, const Event& e) {
  Decision out;
  const absl::Status& result = e.status;
  const std::string error =
      absl::StrCat(call.name, ": ", DescribeStatus(result));
  StepOutcome outcome = StepOutcome::kSucceeded;
  std::optional<absl::Duration> retry_after;
  const int step = call.step;

  if (state.status == SagaStatus::kRunning) {
    const StepDefinition& def = d.step(step);
    if (result.ok()) {
      out.state = AtStep(state, step + 1);
      if (e.context.has_value()) out.state.context = *e.context;
      if (step == d.size()) {
        out.state = AtStep(out.state, step);
        out.state.status = SagaStatus::kCompleted;
      }
    } else if (IsBusinessFailure(result)) {
      // The refused step did nothing: undo only the steps before it.
      outcome = StepOutcome::kFailed;
      out.state = StartCompensating(d, state, step - 1, error);
    } else if (def.retry.kind == RetryPolicy::Kind::kForever) {
      outcome = StepOutcome::kRetrying;
      out.state = state;
      retry_after = BackoffDelay(d.policy.compensation_backoff, state.attempt,
                                 e.uniform01);
    } else {
      const absl::Duration delay =
          BackoffDelay(d.policy.action_backoff, state.attempt, e.uniform01);
      const bool out_of_time =
          def.retry.kind == RetryPolicy::Kind::kUntilStepDeadline
              ? state.step_deadline.has_value() &&
                    e.now + delay >= *state.step_deadline
              : state.attempt >= def.retry.max_attempts;
      if (out_of_time) {
        // The last attempt may have taken effect (a timeout is no answer),
        // so this step is undone too; undoing what never happened is
        // harmless.
        outcome = StepOutcome::kFailed;
        out.state =
            StartCompensating(d, state, step,
                              absl::StrCat(error, " (gave up after ",
                                           state.attempt, " attempts)"));
      } else {
        outcome = StepOutcome::kRetrying;
        out.state = state;
        retry_after = delay;
      }
    }
  } else if (result.ok()) {
    if (state.failed_step.has_value()) {
      // The failure is reported: it now waits for an operator.
      out.state = AtStep(state, state.current_step);
      out.state.status = SagaStatus::kFailed;
    } else if (step == 0) {
      out.state = AtStep(state, 0);
      out.state.status = SagaStatus::kCompensated;
    } else {
      out.state = AtStep(state, UndoFrom(d, step - 1));
      if (out.state.current_step == 0 && d.on_compensated.empty()) {
        out.state.status = SagaStatus::kCompensated;
      }
    }
  } else if (IsBusinessFailure(result)) {
    outcome = StepOutcome::kFailed;
    out.state = state;
    if (state.failed_step.has_value()) {
      // Reporting the failure was refused: nothing more to try.
      out.state = AtStep(out.state, out.state.current_step);
      out.state.status = SagaStatus::kFailed;
    } else {
      // A compensation that is refused cannot be retried into success: an
      // operator has to look. The failure is reported first, if the
      // definition says how.
      out.state = AtStep(out.state, step);
      out.state.failed_step = step;
      out.state.failure_reason =
          absl::StrCat(state.failure_reason, "; compensation failed: ", error);
      if (d.on_failed.empty()) out.state.status = SagaStatus::kFailed;
    }
  } else {
    outcome = StepOutcome::kRetrying;
    out.state = state;
    retry_after =
        BackoffDelay(d.policy.compensation_backoff, state.attempt, e.uniform01);
  }

  out.outcome = outcome;
  out.log.push_back({call.step, call.name, call.kind, state.attempt,
                     std::string(StepOutcomeName(outcome)),
                     result.ok() ? "" : DescribeStatus(result), "", "",
                     state.call_entry});
  if (retry_after.has_value()) {
    out.wake_at = e.now + *retry_after;
  } else {
    // The next call goes out at once: its attempt rides on this commit.
    BeginCall(d, e.now, out);
  }
  return out;
}

Decision Cancel(const SagaDefinition& d, const SagaState& state,
                const Event& e) {
  Decision out;
  if (state.cancel_requested) {
    out.state = state;
    out.commit = false;
    return out;
  }
  const std::string why =
      e.reason.empty() ? "cancelled" : absl::StrCat("cancelled: ", e.reason);
  switch (state.status) {
    case SagaStatus::kRunning:
      // An attempt made at the current step may have taken effect.
      out.state = StartCompensating(
          d, state,
          state.attempt > 0 ? state.current_step : state.current_step - 1, why);
      break;
    case SagaStatus::kCompleted:
      out.state = StartCompensating(d, state, d.size(), why);
      break;
    default:
      out.refused = absl::FailedPreconditionError(
          absl::StrCat("saga is ", SagaStatusName(state.status),
                       state.failure_reason.empty()
                           ? std::string()
                           : absl::StrCat(" (", state.failure_reason, ")"),
                       "; it cannot be cancelled"));
      out.state = state;
      out.commit = false;
      return out;
  }
  out.state.cancel_requested = true;
  out.log.push_back({state.current_step, "cancel_requested", CallKind::kAction,
                     0, "succeeded", "", "", "", ++out.state.timeline_entries});
  // The compensations start as soon as whoever drives the saga gets to it.
  if (!IsTerminal(out.state.status)) out.wake_at = e.now;
  return out;
}

Decision Refuse(const SagaState& state, absl::string_view what,
                absl::string_view allowed) {
  Decision out;
  out.state = state;
  out.commit = false;
  out.refused = absl::FailedPreconditionError(absl::StrCat(
      "saga is ", SagaStatusName(state.status), "; ", what, " only ", allowed));
  return out;
}

// An operator's action moves the saga to `next` and is logged with it; the
// saga is then driven from there.
Decision OperatorMove(const SagaState& next, absl::string_view name,
                      const Event& e) {
  Decision out;
  out.state = next;
  out.log.push_back({next.current_step, std::string(name), CallKind::kAction, 0,
                     "succeeded", "", e.actor, e.reason,
                     ++out.state.timeline_entries});
  if (!IsTerminal(next.status)) out.wake_at = e.now;
  return out;
}

Decision Retry(const SagaState& state, const Event& e) {
  if (state.status != SagaStatus::kFailed || !state.failed_step.has_value()) {
    return Refuse(state, "retry applies",
                  "to a FAILED saga whose compensation was refused");
  }
  SagaState next = AtStep(state, *state.failed_step);
  next.status = SagaStatus::kCompensating;
  next.failed_step.reset();
  return OperatorMove(next, "operator_retry", e);
}

// The first step of the run that cannot be undone and ends the saga, or
// size() + 1 when the last step can be undone.
int FinishFrom(const SagaDefinition& d) {
  int n = d.size();
  while (n >= 1 && d.step(n).compensation.empty()) --n;
  return n + 1;
}

Decision Resolve(const SagaDefinition& d, const SagaState& state,
                 const Event& e) {
  if (state.status == SagaStatus::kCompleted ||
      state.status == SagaStatus::kCompensated) {
    return Refuse(state, "resolve applies",
                  "to a FAILED saga or one still retrying");
  }
  SagaState next = state;
  next.failed_step.reset();
  if (e.resolution == Resolution::kCompensated) {
    next = AtStep(next, 0);
    next.status = d.on_compensated.empty() ? SagaStatus::kCompensated
                                           : SagaStatus::kCompensating;
    return OperatorMove(next, "operator_resolve_compensated", e);
  }
  const int finish = FinishFrom(d);
  if (finish > d.size()) {
    next = AtStep(next, d.size());
    next.status = SagaStatus::kCompleted;
  } else {
    next = AtStep(next, finish);
    next.status = SagaStatus::kRunning;
  }
  return OperatorMove(next, "operator_resolve_completed", e);
}

}  // namespace

absl::string_view SagaStatusName(SagaStatus status) {
  switch (status) {
    case SagaStatus::kRunning:
      return "running";
    case SagaStatus::kCompleted:
      return "completed";
    case SagaStatus::kCompensating:
      return "compensating";
    case SagaStatus::kCompensated:
      return "compensated";
    case SagaStatus::kFailed:
      return "failed";
  }
  return "running";
}

std::optional<SagaStatus> ParseSagaStatus(absl::string_view name) {
  for (SagaStatus s :
       {SagaStatus::kRunning, SagaStatus::kCompleted, SagaStatus::kCompensating,
        SagaStatus::kCompensated, SagaStatus::kFailed}) {
    if (SagaStatusName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsTerminal(SagaStatus status) {
  return status == SagaStatus::kCompleted ||
         status == SagaStatus::kCompensated || status == SagaStatus::kFailed;
}

absl::string_view CallKindName(CallKind kind) {
  return kind == CallKind::kAction ? "action" : "compensation";
}

absl::string_view StepOutcomeName(StepOutcome outcome) {
  switch (outcome) {
    case StepOutcome::kStarted:
      return "started";
    case StepOutcome::kSucceeded:
      return "succeeded";
    case StepOutcome::kFailed:
      return "failed";
    case StepOutcome::kRetrying:
      return "retrying";
  }
  return "failed";
}

bool IsBusinessFailure(const absl::Status& status) {
  return IsFinalError(status);
}

Event Event::Resume(absl::Time now) {
  Event e;
  e.kind = Kind::kResume;
  e.now = now;
  return e;
}

Event Event::FirstCallStored(absl::Time now) {
  Event e;
  e.kind = Kind::kFirstCallStored;
  e.now = now;
  return e;
}

Event Event::Answered(absl::Status status, absl::Time now, double uniform01,
                      std::optional<std::string> context) {
  Event e;
  e.kind = Kind::kAnswered;
  e.status = std::move(status);
  e.now = now;
  e.uniform01 = uniform01;
  e.context = std::move(context);
  return e;
}

Event Event::Cancel(std::string reason, absl::Time now) {
  Event e;
  e.kind = Kind::kCancel;
  e.reason = std::move(reason);
  e.now = now;
  return e;
}

Event Event::Retry(std::string actor, std::string note, absl::Time now) {
  Event e;
  e.kind = Kind::kRetry;
  e.actor = std::move(actor);
  e.reason = std::move(note);
  e.now = now;
  return e;
}

Event Event::Resolve(Resolution resolution, std::string actor, std::string note,
                     absl::Time now) {
  Event e;
  e.kind = Kind::kResolve;
  e.resolution = resolution;
  e.actor = std::move(actor);
  e.reason = std::move(note);
  e.now = now;
  return e;
}

std::optional<SagaCall> CurrentCall(const SagaDefinition& d,
                                    const SagaState& state) {
  const int step = state.current_step;
  if (state.status == SagaStatus::kRunning && step >= 1 && step <= d.size()) {
    return SagaCall{step, CallKind::kAction, d.step(step).name};
  }
  if (state.status == SagaStatus::kCompensating) {
    if (state.failed_step.has_value()) {
      if (d.on_failed.empty()) return std::nullopt;
      return SagaCall{*state.failed_step, CallKind::kCompensation, d.on_failed};
    }
    if (step == 0 && !d.on_compensated.empty()) {
      return SagaCall{0, CallKind::kCompensation, d.on_compensated};
    }
    if (step >= 1 && step <= d.size() && !d.step(step).compensation.empty()) {
      return SagaCall{step, CallKind::kCompensation, d.step(step).compensation};
    }
  }
  return std::nullopt;
}

Decision Decide(const SagaDefinition& d, const SagaState& state,
                const Event& e) {
  if (e.kind == Event::Kind::kCancel) return Cancel(d, state, e);
  if (e.kind == Event::Kind::kRetry) return Retry(state, e);
  if (e.kind == Event::Kind::kResolve) return Resolve(d, state, e);
  if (IsTerminal(state.status)) {
    Decision out;
    out.state = state;
    out.commit = false;
    return out;
  }
  const std::optional<SagaCall> call = CurrentCall(d, state);
  if (!call.has_value()) return Stranded(d, state);
  switch (e.kind) {
    case Event::Kind::kAnswered:
      return Answered(d, state, *call, e);
    case Event::Kind::kFirstCallStored: {
      // The attempt is on record; only its deadline starts now (in memory:
      // after a crash the saga resumes with a new attempt and deadline).
      Decision out;
      out.state = state;
      out.commit = false;
      if (state.status == SagaStatus::kRunning &&
          d.step(state.current_step).retry.kind ==
              RetryPolicy::Kind::kUntilStepDeadline &&
          !state.step_deadline.has_value()) {
        out.state.step_deadline = e.now + d.policy.step_timeout;
      }
      out.call = call;
      return out;
    }
    case Event::Kind::kResume:
    case Event::Kind::kCancel:
    case Event::Kind::kRetry:
    case Event::Kind::kResolve: {
      Decision out;
      out.state = state;
      BeginCall(d, e.now, out);
      return out;
    }
  }
  return Stranded(d, state);
}

Decision FirstCall(const SagaDefinition& definition, absl::Time now) {
  Decision first = Decide(definition, SagaState{}, Event::Resume(now));
  first.state.step_deadline.reset();
  return first;
}

}  // namespace sagaworks::orchestrator
