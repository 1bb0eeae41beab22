// The order saga as a pure state machine: which call comes next, and what a
// call's result does to the saga. No I/O and no clock of its own, so every
// path is unit-tested with fixed times and fixed random draws.
//
//   step 1 reserve_stock    (undo: release_stock)
//   step 2 charge_payment   (undo: refund_payment)
//   step 3 create_shipment  (undo: cancel_shipment)
//   step 4 approve_order
//   after undoing: reject_order (step 0 of the compensating phase)
#ifndef SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_
#define SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/backoff.h"

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

inline constexpr int kRejectOrder = 0;  // compensating phase only
inline constexpr int kReserveStock = 1;
inline constexpr int kChargePayment = 2;
inline constexpr int kCreateShipment = 3;
inline constexpr int kApproveOrder = 4;

enum class CallKind { kAction, kCompensation };

// SagaCall is one call the saga makes.
struct SagaCall {
  int step;
  CallKind kind;
  absl::string_view name;  // "reserve_stock", "release_stock", ...
};

struct SagaState {
  SagaStatus status = SagaStatus::kRunning;
  // Running: the next step (1-4). Compensating: the step being undone; 0 is
  // rejecting the order.
  int current_step = kReserveStock;
  // Attempts made so far at the current call.
  int attempt = 0;
  // When the current forward step stops retrying; set at its first attempt.
  std::optional<absl::Time> step_deadline;
  std::string failure_reason;
  // The priced total, known once stock is reserved.
  int64_t total_cents = 0;
  // CancelSaga was accepted: the order ends CANCELLED, not REJECTED.
  bool cancel_requested = false;
};

struct SagaPolicy {
  // How long steps 1-3 retry transient failures before compensating.
  absl::Duration step_timeout = absl::Seconds(10);
  BackoffConfig action_backoff{absl::Milliseconds(100), absl::Seconds(2), 2.0};
  // Compensations, approve and reject retry until they succeed, this far
  // apart at most.
  BackoffConfig compensation_backoff{absl::Milliseconds(200), absl::Seconds(5),
                                     2.0};

  absl::Status Validate() const;
};

// IsBusinessFailure tells a refusal that retrying cannot change
// (FAILED_PRECONDITION, NOT_FOUND, INVALID_ARGUMENT, ...) from a transient
// failure (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
bool IsBusinessFailure(const absl::Status& status);

// NextCall is the call to make now, or nullopt when the saga is finished.
std::optional<SagaCall> NextCall(const SagaState& state);

// StartStepClock sets the step deadline (now + step timeout) of a forward
// step that has none yet; other states come back unchanged.
SagaState StartStepClock(const SagaState& state, absl::Time now,
                         const SagaPolicy& policy);

// BeginCall is the state to commit before the next call goes out: one more
// attempt, and the step deadline on a forward step's first attempt.
SagaState BeginCall(const SagaState& state, absl::Time now,
                    const SagaPolicy& policy);

enum class StepOutcome { kSucceeded, kFailed, kRetrying };
absl::string_view StepOutcomeName(StepOutcome outcome);
// CallKindName is "action" or "compensation", as the step log has it.
absl::string_view CallKindName(CallKind kind);

struct Transition {
  SagaState next;
  // What the step log records for the call.
  StepOutcome outcome;
  // With kRetrying: how long to wait before the next attempt.
  absl::Duration retry_after = absl::ZeroDuration();
};

// Cancel stops a saga's forward progress and undoes what it did: from a
// running step that may have gone out (an attempt was made), that step too;
// from a completed saga, every step. Cancelling a cancelled saga changes
// nothing; a saga already compensating for another reason, compensated or
// failed cannot be cancelled (FAILED_PRECONDITION).
absl::StatusOr<SagaState> Cancel(const SagaState& state,
                                 const std::string& reason);

// Advance applies the result of the call NextCall(state) named, where `state`
// is what BeginCall returned. `uniform01` is a draw from [0, 1) for jitter.
Transition Advance(const SagaState& state, const absl::Status& result,
                   absl::Time now, const SagaPolicy& policy, double uniform01);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_
