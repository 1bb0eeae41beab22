#include "orchestrator/participants.h"

#include "common/status.h"

namespace sagaworks::orchestrator {

CallResult GrpcParticipants::Invoke(const SagaCall& call,
                                    const v1::StartSagaRequest& order,
                                    const SagaState& state,
                                    absl::Time deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  const std::string& order_id = order.order_id();
  CallResult result;
  if (call.kind == CallKind::kAction) {
    switch (call.step) {
      case kReserveStock: {
        v1::ReserveStockRequest request;
        request.set_order_id(order_id);
        *request.mutable_items() = order.items();
        v1::Reservation reservation;
        result.status = FromGrpcStatus(
            stubs_.inventory->ReserveStock(&context, request, &reservation));
        result.total_cents = reservation.total_cents();
        return result;
      }
      case kChargePayment: {
        v1::ChargeRequest request;
        request.set_order_id(order_id);
        request.set_customer_id(order.customer_id());
        request.set_amount_cents(state.total_cents);
        v1::Charge charge;
        result.status =
            FromGrpcStatus(stubs_.payment->Charge(&context, request, &charge));
        return result;
      }
      case kCreateShipment: {
        v1::CreateShipmentRequest request;
        request.set_order_id(order_id);
        *request.mutable_address() = order.shipping_address();
        *request.mutable_items() = order.items();
        v1::Shipment shipment;
        result.status = FromGrpcStatus(
            stubs_.shipping->CreateShipment(&context, request, &shipment));
        return result;
      }
      case kApproveOrder: {
        v1::ApproveOrderRequest request;
        request.set_order_id(order_id);
        request.set_total_cents(state.total_cents);
        v1::Order approved;
        result.status = FromGrpcStatus(
            stubs_.order->ApproveOrder(&context, request, &approved));
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
        v1::Order rejected;
        result.status = FromGrpcStatus(
            stubs_.order->RejectOrder(&context, request, &rejected));
        return result;
      }
      case kReserveStock: {
        v1::ReleaseStockRequest request;
        request.set_order_id(order_id);
        v1::Reservation released;
        result.status = FromGrpcStatus(
            stubs_.inventory->ReleaseStock(&context, request, &released));
        return result;
      }
      case kChargePayment: {
        v1::RefundRequest request;
        request.set_order_id(order_id);
        v1::Charge refunded;
        result.status = FromGrpcStatus(
            stubs_.payment->Refund(&context, request, &refunded));
        return result;
      }
      case kCreateShipment: {
        v1::CancelShipmentRequest request;
        request.set_order_id(order_id);
        v1::Shipment cancelled;
        result.status = FromGrpcStatus(
            stubs_.shipping->CancelShipment(&context, request, &cancelled));
        return result;
      }
    }
  }
  result.status = absl::InternalError("no such saga call");
  return result;
}

}  // namespace sagaworks::orchestrator
