// The order saga, as a definition (engine/saga_definition.h) and its
// context. The calls it makes are bound to the services in participants.cc.
//
//   step 1 reserve_stock    (undo: release_stock)
//   step 2 charge_payment   (undo: refund_payment; the pivot)
//   step 3 create_shipment  (undo: cancel_shipment)
//   step 4 approve_order    (retried until it succeeds)
//   after undoing: reject_order
//   when an undo is refused: hold_order (the order waits for an operator)
#ifndef SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_
#define SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_

#include <cstdint>
#include <string>

#include "orchestrator/engine/decide.h"
#include "orchestrator/engine/saga_definition.h"
#include "sagaworks/internal/order_saga.pb.h"

namespace sagaworks::orchestrator {

inline constexpr char kOrderSagaType[] = "order";

SagaDefinition OrderSagaDefinition(SagaPolicy policy = SagaPolicy());

// OrderContext reads the order saga's context from `state` (empty: nothing
// known yet).
internal::OrderSagaContext OrderContext(const SagaState& state);
// The priced total the saga knows, 0 before stock is reserved.
int64_t OrderTotalCents(const SagaState& state);
std::string OrderContextBytes(int64_t total_cents);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_ORDER_SAGA_H_
