#include "orchestrator/order_saga.h"

namespace sagaworks::orchestrator {

SagaDefinition OrderSagaDefinition(SagaPolicy policy) {
  SagaDefinition d;
  d.type = kOrderSagaType;
  d.policy = policy;
  d.steps = {
      {"reserve_stock", "release_stock", RetryPolicy::UntilStepDeadline(),
       false},
      {"charge_payment", "refund_payment", RetryPolicy::UntilStepDeadline(),
       true},
      {"create_shipment", "cancel_shipment", RetryPolicy::UntilStepDeadline(),
       false},
      // Past the last step that can be undone the saga must finish.
      {"approve_order", "", RetryPolicy::Forever(), false},
  };
  d.on_compensated = "reject_order";
  d.on_failed = "hold_order";
  return d;
}

internal::OrderSagaContext OrderContext(const SagaState& state) {
  internal::OrderSagaContext context;
  // An unreadable context reads as empty: the steps that need the total
  // then send 0, which the services refuse rather than misapply.
  context.ParseFromString(state.context);
  return context;
}

int64_t OrderTotalCents(const SagaState& state) {
  return OrderContext(state).total_cents();
}

std::string OrderContextBytes(int64_t total_cents) {
  internal::OrderSagaContext context;
  context.set_total_cents(total_cents);
  return context.SerializeAsString();
}

}  // namespace sagaworks::orchestrator
