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
void Call(resilience::Client<Stub>& client, const char* method,
          const CallInput& in,
          void (Stub::async_interface::*rpc)(grpc::ClientContext*,
                                             const Request*, Response*,
                                             std::function<void(grpc::Status)>),
          Request request, CallDone done) {
  client.CallAsync(method, SagaCallOptions(in), rpc, std::move(request),
                   [done = std::move(done)](absl::Status status, Response&) {
                     done({std::move(status), std::nullopt});
                   });
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

void BoundParticipants::Bind(const std::string& name, Binding binding) {
  BindAsync(name,
            [binding = std::move(binding)](const CallInput& in, CallDone done) {
              done(binding(in));
            });
}

void BoundParticipants::Invoke(const CallInput& input, CallDone done) {
  auto it = bindings_.find(input.call.name);
  if (it == bindings_.end()) {
    // CheckBindings at start keeps this from happening.
    done({absl::InternalError(
              absl::StrCat("no binding for saga call ", input.call.name)),
          std::nullopt});
    return;
  }
  it->second(input, std::move(done));
}

std::unique_ptr<BoundParticipants> OrderSagaParticipants(
    ParticipantStubs stubs_in) {
  auto stubs = std::make_shared<ParticipantStubs>(std::move(stubs_in));
  auto p = std::make_unique<BoundParticipants>();
  using Inventory = v1::InventoryService::StubInterface::async_interface;
  using Payment = v1::PaymentService::StubInterface::async_interface;
  using Shipping = v1::ShippingService::StubInterface::async_interface;
  using Order = v1::OrderService::StubInterface::async_interface;

  p->BindAsync("reserve_stock", [stubs](const CallInput& in, CallDone done) {
    v1::ReserveStockRequest request;
    request.set_order_id(in.request.order_id());
    *request.mutable_items() = in.request.items();
    stubs->inventory.CallAsync(
        "ReserveStock", SagaCallOptions(in), &Inventory::ReserveStock,
        std::move(request),
        [done = std::move(done)](absl::Status status,
                                 v1::Reservation& reservation) {
          CallResult result{std::move(status), std::nullopt};
          // The priced total feeds the charge and the approval.
          if (result.status.ok()) {
            result.context = OrderContextBytes(reservation.total_cents());
          }
          done(std::move(result));
        });
  });
  p->BindAsync("release_stock", [stubs](const CallInput& in, CallDone done) {
    v1::ReleaseStockRequest request;
    request.set_order_id(in.request.order_id());
    Call(stubs->inventory, "ReleaseStock", in, &Inventory::ReleaseStock,
         std::move(request), std::move(done));
  });
  p->BindAsync("charge_payment", [stubs](const CallInput& in, CallDone done) {
    v1::ChargeRequest request;
    request.set_order_id(in.request.order_id());
    request.set_customer_id(in.request.customer_id());
    request.set_amount_cents(OrderTotalCents(in.state));
    Call(stubs->payment, "Charge", in, &Payment::Charge, std::move(request),
         std::move(done));
  });
  p->BindAsync("refund_payment", [stubs](const CallInput& in, CallDone done) {
    v1::RefundRequest request;
    request.set_order_id(in.request.order_id());
    Call(stubs->payment, "Refund", in, &Payment::Refund, std::move(request),
         std::move(done));
  });
  p->BindAsync("create_shipment", [stubs](const CallInput& in, CallDone done) {
    v1::CreateShipmentRequest request;
    request.set_order_id(in.request.order_id());
    request.set_customer_id(in.request.customer_id());
    *request.mutable_address() = in.request.shipping_address();
    *request.mutable_items() = in.request.items();
    Call(stubs->shipping, "CreateShipment", in, &Shipping::CreateShipment,
         std::move(request), std::move(done));
  });
  p->BindAsync("cancel_shipment", [stubs](const CallInput& in, CallDone done) {
    v1::CancelShipmentRequest request;
    request.set_order_id(in.request.order_id());
    Call(stubs->shipping, "CancelShipment", in, &Shipping::CancelShipment,
         std::move(request), std::move(done));
  });
  p->BindAsync("approve_order", [stubs](const CallInput& in, CallDone done) {
    v1::ApproveOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_total_cents(OrderTotalCents(in.state));
    request.set_saga_id(in.saga_id);
    Call(stubs->order, "ApproveOrder", in, &Order::ApproveOrder,
         std::move(request), std::move(done));
  });
  p->BindAsync("reject_order", [stubs](const CallInput& in, CallDone done) {
    v1::RejectOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_reason(in.state.failure_reason);
    request.set_total_cents(OrderTotalCents(in.state));
    request.set_cancelled(in.state.cancel_requested);
    request.set_saga_id(in.saga_id);
    Call(stubs->order, "RejectOrder", in, &Order::RejectOrder,
         std::move(request), std::move(done));
  });
  p->BindAsync("hold_order", [stubs](const CallInput& in, CallDone done) {
    v1::HoldOrderRequest request;
    request.set_order_id(in.request.order_id());
    request.set_reason(in.state.failure_reason);
    request.set_saga_id(in.saga_id);
    Call(stubs->order, "HoldOrder", in, &Order::HoldOrder, std::move(request),
         std::move(done));
  });
  return p;
}

}  // namespace sagaworks::orchestrator
