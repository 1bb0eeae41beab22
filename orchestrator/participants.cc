#include "orchestrator/participants.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "orchestrator/order_saga.h"

namespace sagaworks::orchestrator {
namespace {

// Every saga call carries its idempotency key, so the pipeline may retry
// timeouts too.
resilience::CallOptions SagaCallOptions(const CallInput& in) {
  resilience::CallOptions options;
  options.idempotent = true;
  options.deadline = in.deadline;
  options.metadata = {{"idempotency-key", in.idempotency_key}};
  return options;
}

// Call makes one unary call through `client`'s pipeline and keeps only the
// status.
template <typename Stub, typename Request, typename Response>
CallResult Call(resilience::Client<Stub>& client, const char* method,
                const CallInput& in,
                grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                          Response*),
                const Request& request) {
  Response response;
  return {client.Call(method, SagaCallOptions(in), rpc, request, &response),
          std::nullopt};
}

}  // namespace

std::string SagaCallKey(const std::string& saga_id, const SagaCall& call) {
  return absl::StrCat("saga:", saga_id, ":", call.step, ":", call.name);
}

absl::Status CheckBindings(const SagaDefinition& definition,
                           const Participants& participants) {
  for (const std::string& name : definition.CallNames()) {
    if (!participants.Binds(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("saga definition \"", definition.type, "\": the call \"",
                       name, "\" has no binding"));
    }
  }
  return absl::OkStatus();
}

CallResult BoundParticipants::Invoke(const CallInput& input) {
  auto it = bindings_.find(input.call.name);
  if (it == bindings_.end()) {
    // CheckBindings at start keeps this from happening.
    return {absl::InternalError(
                absl::StrCat("no binding for saga call ", input.call.name)),
            std::nullopt};
  }
  return it->second(input);
}

std::unique_ptr<BoundParticipants> OrderSagaParticipants(
    ParticipantStubs stubs_in) {
  auto stubs = std::make_shared<ParticipantStubs>(std::move(stubs_in));
  auto p = std::make_unique<BoundParticipants>();
  using Inventory = v1::InventoryService::StubInterface;
  using Payment = v1::PaymentService::StubInterface;
  using Shipping = v1::ShippingService::StubInterface;
  using Order = v1::OrderService::StubInterface;

  p->Bind("reserve_stock", [stubs](const CallInput& in) {
    v1::ReserveStockRequest request;
    request.set_order_id(in.request.order_id());
    *request.mutable_items() = in.request.items();
    v1::Reservation reservation;
    CallResult result;
    result.status =
        stubs->inventory.Call("ReserveStock", SagaCallOptions(in),
                              &Inventory::ReserveStock, request, &reservation);
    // The priced total feeds the charge and the approval.
    if (result.status.ok()) {
      result.context = OrderContextBytes(reservation.total_cents());
    }
    return result;
  });
  p->Bind("release_stock", [stubs](const CallInput& in) {
    v1::ReleaseStockRequest request;
    request.set_order_id(in.request.order_id());
    return Call(stubs->inventory, "ReleaseStock", in, &Inventory::ReleaseStock,
                request);
  });
  p->Bind("charge_payment", [stubs](const CallInput& in) {
    v1::ChargeRequest request;
    request.set_order_id(in.request.order_id());
    request.set_customer_id(in.request.customer_id());
    request.set_amount_cents(OrderTotalCents(in.state));
    return Call(stubs->payment, "Charge", in, &Payment::Charge, request);
  });
  p->Bind("refund_payment", [stubs](const CallInput& in) {
    v1::RefundRequest request;
    request.set_order_id(in.request.order_id());
    return Call(stubs->payment, "Refund", in, &Payment::Refund, request);
  });
  p->Bind("create_shipment", [stubs](const CallInput& in) {
    v1::CreateShipmentRequest request;
    request.set_order_id(in.request.order_id());
    request.set_customer_id(in.request.customer_id());
    *request.mutable_address() = in.request.shipping_address();
    *request.mutable_items() = in.request.items();
    return Call(stubs->shipping, "CreateShipment", in,
                &Shipping::CreateShipment, request);
  });
  p->Bind("cancel_shipment", [stubs](const CallInput& in) {
    v1::CancelShipmentRequest request;
    request.set_order_id(in.request.order_id());
    return Call(stubs->shipping, "CancelShipment", in,
                &Shipping::CancelShipment, request);
  });
  p->Bind("approve_order", [stubs](const CallInput& in) {
    v1::ApproveOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_total_cents(OrderTotalCents(in.state));
    request.set_saga_id(in.saga_id);
    return Call(stubs->order, "ApproveOrder", in, &Order::ApproveOrder,
                request);
  });
  p->Bind("reject_order", [stubs](const CallInput& in) {
    v1::RejectOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_reason(in.state.failure_reason);
    request.set_total_cents(OrderTotalCents(in.state));
    request.set_cancelled(in.state.cancel_requested);
    request.set_saga_id(in.saga_id);
    return Call(stubs->order, "RejectOrder", in, &Order::RejectOrder, request);
  });
  p->Bind("hold_order", [stubs](const CallInput& in) {
    v1::HoldOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_reason(in.state.failure_reason);
    request.set_saga_id(in.saga_id);
    return Call(stubs->order, "HoldOrder", in, &Order::HoldOrder, request);
  });
  return p;
}

}  // namespace sagaworks::orchestrator
