#include "orchestrator/participants.h"

#include "absl/strings/str_cat.h"
#include "common/platform/services.h"
#include "common/status.h"

namespace sagaworks::orchestrator {

namespace {

// Every saga call carries its idempotency key, so the pipeline may retry
// timeouts too.
resilience::CallOptions SagaCallOptions(absl::Time deadline,
                                        const std::string& key) {
  resilience::CallOptions options;
  options.idempotent = true;
  options.deadline = deadline;
  options.metadata = {
      {"idempotency-key", key}};
  return options;
}

}  // namespace

std::string SagaCallKey(const std::string& saga_id, const SagaCall& call) {
  return absl::StrCat("saga:", saga_id, ":", call.step, ":", call.name);
}

CallResult GrpcParticipants::Invoke(const std::string& saga_id,
                                    const SagaCall& call,
                                    const v1::StartSagaRequest& order,
                                    const SagaState& state,
                                    absl::Time deadline) {
  const std::string key = SagaCallKey(saga_id, call);
  const std::string& order_id = order.order_id();
  CallResult result;
  if (call.kind == CallKind::kAction) {
    switch (call.step) {
      case kReserveStock: {
        v1::ReserveStockRequest request;
        request.set_order_id(order_id);
        *request.mutable_items() = order.items();
        v1::Reservation reservation;
        result.status = stubs_.inventory.Call(
            "ReserveStock", SagaCallOptions(deadline, key),
            &v1::InventoryService::StubInterface::ReserveStock, request,
            &reservation);
        result.total_cents = reservation.total_cents();
        return result;
      }
      case kChargePayment: {
        v1::ChargeRequest request;
        request.set_order_id(order_id);
        request.set_customer_id(order.customer_id());
        request.set_amount_cents(state.total_cents);
        v1::Charge charge;
        result.status = stubs_.payment.Call(
            "Charge", SagaCallOptions(deadline, key),
            &v1::PaymentService::StubInterface::Charge, request, &charge);
        return result;
      }
      case kCreateShipment: {
        v1::CreateShipmentRequest request;
        request.set_order_id(order_id);
        request.set_customer_id(order.customer_id());
        *request.mutable_address() = order.shipping_address();
        *request.mutable_items() = order.items();
        v1::Shipment shipment;
        result.status = stubs_.shipping.Call(
            "CreateShipment", SagaCallOptions(deadline, key),
            &v1::ShippingService::StubInterface::CreateShipment, request,
            &shipment);
        return result;
      }
      case kApproveOrder: {
        v1::ApproveOrderRequest request;
        request.set_order_id(order_id);
        request.set_total_cents(state.total_cents);
        request.set_saga_id(saga_id);
        v1::Order approved;
        result.status = stubs_.order.Call(
            "ApproveOrder", SagaCallOptions(deadline, key),
            &v1::OrderService::StubInterface::ApproveOrder, request, &approved);
        return result;
      }
    }
  } else {
    switch (call.step) {
      case kRejectOrder: {
        v1::RejectOrderRequest request;
        request.set_order_id(order_id);
        request.set_reason(state.failure_reason);
        request.set_total_cents(state.total_cents);
        request.set_cancelled(state.cancel_requested);
        request.set_saga_id(saga_id);
        v1::Order rejected;
        result.status = stubs_.order.Call(
            "RejectOrder", SagaCallOptions(deadline, key),
            &v1::OrderService::StubInterface::RejectOrder, request, &rejected);
        return result;
      }
      case kReserveStock: {
        v1::ReleaseStockRequest request;
        request.set_order_id(order_id);
        v1::Reservation released;
        result.status = stubs_.inventory.Call(
            "ReleaseStock", SagaCallOptions(deadline, key),
            &v1::InventoryService::StubInterface::ReleaseStock, request,
            &released);
        return result;
      }
      case kChargePayment: {
        v1::RefundRequest request;
        request.set_order_id(order_id);
        v1::Charge refunded;
        result.status = stubs_.payment.Call(
            "Refund", SagaCallOptions(deadline, key),
            &v1::PaymentService::StubInterface::Refund, request, &refunded);
        return result;
      }
      case kCreateShipment: {
        v1::CancelShipmentRequest request;
        request.set_order_id(order_id);
        v1::Shipment cancelled;
        result.status = stubs_.shipping.Call(
            "CancelShipment", SagaCallOptions(deadline, key),
            &v1::ShippingService::StubInterface::CancelShipment, request,
            &cancelled);
        return result;
      }
    }
  }
  result.status = absl::InternalError("no such saga call");
  return result;
}

}  // namespace sagaworks::orchestrator
