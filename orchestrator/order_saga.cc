#include "orchestrator/order_saga.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace sagaworks::orchestrator {
namespace {

constexpr absl::string_view kActionNames[] = {
    "", "reserve_stock", "charge_payment", "create_shipment", "approve_order"};
constexpr absl::string_view kCompensationNames[] = {
    "reject_order", "release_stock", "refund_payment", "cancel_shipment"};

// Moves to the compensating phase, undoing steps `from_step` down to 1.
SagaState StartCompensating(SagaState state, int from_step,
                            std::string reason) {
  state.status = SagaStatus::kCompensating;
  state.current_step = from_step;
  state.attempt = 0;
  state.step_deadline.reset();
  state.failure_reason = std::move(reason);
  return state;
}

SagaState NextStep(SagaState state, int step) {
  state.current_step = step;
  state.attempt = 0;
  state.step_deadline.reset();
  return state;
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
    case StepOutcome::kSucceeded:
      return "succeeded";
    case StepOutcome::kFailed:
      return "failed";
    case StepOutcome::kRetrying:
      return "retrying";
  }
  return "failed";
}

absl::Status SagaPolicy::Validate() const {
  if (step_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("step timeout must be positive");
  }
  if (absl::Status s = action_backoff.Validate(); !s.ok()) return s;
  return compensation_backoff.Validate();
}

bool IsBusinessFailure(const absl::Status& status) {
  return IsFinalError(status);
}

std::optional<SagaCall> NextCall(const SagaState& state) {
  const int step = state.current_step;
  if (state.status == SagaStatus::kRunning && step >= kReserveStock &&
      step <= kApproveOrder) {
    return SagaCall{step, CallKind::kAction, kActionNames[step]};
  }
  if (state.status == SagaStatus::kCompensating && step >= kRejectOrder &&
      step <= kCreateShipment) {
    return SagaCall{step, CallKind::kCompensation, kCompensationNames[step]};
  }
  return std::nullopt;
}

SagaState StartStepClock(const SagaState& state, absl::Time now,
                         const SagaPolicy& policy) {
  SagaState next = state;
  if (state.status == SagaStatus::kRunning &&
      state.current_step < kApproveOrder && !next.step_deadline.has_value()) {
    next.step_deadline = now + policy.step_timeout;
  }
  return next;
}

SagaState BeginCall(const SagaState& state, absl::Time now,
                    const SagaPolicy& policy) {
  SagaState next = StartStepClock(state, now, policy);
  ++next.attempt;
  return next;
}

absl::StatusOr<SagaState> Cancel(const SagaState& state,
                                 const std::string& reason) {
  if (state.cancel_requested) return state;
  const std::string why =
      reason.empty() ? "cancelled" : absl::StrCat("cancelled: ", reason);
  SagaState next;
  switch (state.status) {
    case SagaStatus::kRunning: {
      // An attempt made at the current step may have taken effect.
      int from =
          state.attempt > 0 ? state.current_step : state.current_step - 1;
      from = std::min(from, kCreateShipment);  // approving has no undo
      next = StartCompensating(state, from, why);
      break;
    }
    case SagaStatus::kCompleted:
      next = StartCompensating(state, kCreateShipment, why);
      break;
    default:
      return absl::FailedPreconditionError(
          absl::StrCat("saga is ", SagaStatusName(state.status),
                       state.failure_reason.empty()
                           ? std::string()
                           : absl::StrCat(" (", state.failure_reason, ")"),
                       "; it cannot be cancelled"));
  }
  next.cancel_requested = true;
  return next;
}

Transition Advance(const SagaState& state, const absl::Status& result,
                   absl::Time now, const SagaPolicy& policy, double uniform01) {
  const std::optional<SagaCall> call = NextCall(state);
  if (!call.has_value()) return {state, StepOutcome::kFailed};
  const int step = call->step;
  const std::string error =
      absl::StrCat(call->name, ": ", DescribeStatus(result));

  if (state.status == SagaStatus::kRunning) {
    if (result.ok()) {
      if (step == kApproveOrder) {
        SagaState done = NextStep(state, step);
        done.status = SagaStatus::kCompleted;
        return {done, StepOutcome::kSucceeded};
      }
      return {NextStep(state, step + 1), StepOutcome::kSucceeded};
    }
    if (IsBusinessFailure(result)) {
      // The refused step did nothing: undo only the steps before it.
      return {StartCompensating(state, step - 1, error), StepOutcome::kFailed};
    }
    if (step == kApproveOrder) {
      // Past the pivot the saga must finish: retry until approve succeeds.
      return {
          state, StepOutcome::kRetrying,
          BackoffDelay(policy.compensation_backoff, state.attempt, uniform01)};
    }
    const absl::Duration delay =
        BackoffDelay(policy.action_backoff, state.attempt, uniform01);
    if (state.step_deadline.has_value() &&
        now + delay >= *state.step_deadline) {
      // The last attempt may have taken effect (a timeout is no answer), so
      // this step is undone too; undoing what never happened is harmless.
      return {StartCompensating(state, step,
                                absl::StrCat(error, " (gave up after ",
                                             state.attempt, " attempts)")),
              StepOutcome::kFailed};
    }
    return {state, StepOutcome::kRetrying, delay};
  }

  // Compensating.
  if (result.ok()) {
    if (step == kRejectOrder) {
      SagaState done = state;
      done.status = SagaStatus::kCompensated;
      done.attempt = 0;
      return {done, StepOutcome::kSucceeded};
    }
    return {NextStep(state, step - 1), StepOutcome::kSucceeded};
  }
  if (IsBusinessFailure(result)) {
    // A compensation that is refused cannot be retried into success: an
    // operator has to look.
    SagaState failed = state;
    failed.status = SagaStatus::kFailed;
    failed.failure_reason =
        absl::StrCat(state.failure_reason, "; compensation failed: ", error);
    return {failed, StepOutcome::kFailed};
  }
  return {state, StepOutcome::kRetrying,
          BackoffDelay(policy.compensation_backoff, state.attempt, uniform01)};
}

}  // namespace sagaworks::orchestrator
