// SagaDefinition: a saga as data. The engine (engine/decide.h) walks any
// definition; a saga type is one definition plus the bindings that make its
// calls (orchestrator/participants.h).
//
// Steps are numbered from 1 in the order they run. While compensating, the
// saga undoes the steps that have a compensation from the highest down, then
// makes the definition's closing call (`on_compensated`, numbered 0), if any.
#ifndef SAGAWORKS_ORCHESTRATOR_ENGINE_SAGA_DEFINITION_H_
#define SAGAWORKS_ORCHESTRATOR_ENGINE_SAGA_DEFINITION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/backoff.h"

namespace sagaworks::orchestrator {

// RetryPolicy: what a step does with a transient failure (UNAVAILABLE,
// DEADLINE_EXCEEDED, ...). A refusal by the participant's business rules is
// never retried; compensations always retry transient failures until they
// succeed.
struct RetryPolicy {
  enum class Kind {
    // Retry until the step's deadline (SagaPolicy::step_timeout after its
    // first attempt), then give up and compensate, this step included.
    kUntilStepDeadline,
    // Retry until it succeeds, backing off as compensations do.
    kForever,
    // Give up and compensate after `max_attempts` attempts.
    kAttempts,
  };
  Kind kind = Kind::kUntilStepDeadline;
  int max_attempts = 0;

  static RetryPolicy UntilStepDeadline() { return {}; }
  static RetryPolicy Forever() {
    RetryPolicy p;
    p.kind = Kind::kForever;
    return p;
  }
  static RetryPolicy Attempts(int n) {
    RetryPolicy p;
    p.kind = Kind::kAttempts;
    p.max_attempts = n;
    return p;
  }
};

struct StepDefinition {
  // The step's action, as bindings, the step log and idempotency keys name
  // it: "reserve_stock".
  std::string name;
  // The call that undoes it ("release_stock"), or empty when nothing can.
  std::string compensation;
  RetryPolicy retry;
  // The pivot decides the saga: every step before it can be undone, so that
  // a refusal at the pivot leaves nothing behind.
  bool pivot = false;
};

// SagaPolicy: the timing every step shares.
struct SagaPolicy {
  // How long a kUntilStepDeadline step retries before compensating.
  absl::Duration step_timeout = absl::Seconds(10);
  BackoffConfig action_backoff{absl::Milliseconds(100), absl::Seconds(2), 2.0};
  // Compensations and kForever steps retry until they succeed, this far
  // apart at most.
  BackoffConfig compensation_backoff{absl::Milliseconds(200), absl::Seconds(5),
                                     2.0};

  absl::Status Validate() const;
};

struct SagaDefinition {
  // The saga type, as stored with each saga: "order".
  std::string type;
  std::vector<StepDefinition> steps;
  // The call made once everything is undone (the order saga rejects its
  // order), or empty.
  std::string on_compensated;
  // The call made when a compensation is refused and the saga fails (the
  // order saga puts its order on hold for an operator), or empty. Retried
  // until it succeeds; the saga is FAILED once it has been made.
  std::string on_failed;
  SagaPolicy policy;

  // Validate refuses a definition the engine could not run safely: no
  // steps, empty or repeated call names, more than one pivot, a step before
  // the pivot with no compensation, a step that cannot be undone but may give
  // up (it must retry forever), or a step with a compensation after one that
  // cannot be undone (undoing it would leave the earlier one in place).
  absl::Status Validate() const;

  int size() const { return static_cast<int>(steps.size()); }
  // step(n) is step number n, 1 <= n <= size().
  const StepDefinition& step(int n) const { return steps[n - 1]; }
  // CallNames lists every call the saga may make, actions first.
  std::vector<std::string> CallNames() const;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_ENGINE_SAGA_DEFINITION_H_
