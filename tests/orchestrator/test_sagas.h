// A second saga definition, used only by tests, to show that the engine runs
// any valid definition: five steps, counted retries, two steps that cannot be
// undone, and a context that every step adds to.
#ifndef SAGAWORKS_TESTS_ORCHESTRATOR_TEST_SAGAS_H_
#define SAGAWORKS_TESTS_ORCHESTRATOR_TEST_SAGAS_H_

#include "orchestrator/engine/saga_definition.h"

namespace sagaworks::orchestrator::testing {

inline SagaDefinition TripSagaDefinition() {
  SagaDefinition d;
  d.type = "trip";
  d.steps = {
      {"book_flight", "cancel_flight", RetryPolicy::UntilStepDeadline(), false},
      {"book_hotel", "cancel_hotel", RetryPolicy::Attempts(3), false},
      {"charge_card", "refund_card", RetryPolicy::UntilStepDeadline(), true},
      {"send_tickets", "", RetryPolicy::Forever(), false},
      {"notify_customer", "", RetryPolicy::Forever(), false},
  };
  d.on_compensated = "close_trip";
  d.policy.step_timeout = absl::Seconds(5);
  return d;
}

}  // namespace sagaworks::orchestrator::testing

#endif  // SAGAWORKS_TESTS_ORCHESTRATOR_TEST_SAGAS_H_
