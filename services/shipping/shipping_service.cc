#include "services/shipping/shipping_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_reply.h"
#include "common/validation.h"

namespace sagaworks::shipping {

absl::Status ShippingRules::Check(
    const v1::CreateShipmentRequest& request) const {
  if (absl::Status s = ValidateUuid("order_id", request.order_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateItems(request.items()); !s.ok()) return s;
  if (!request.customer_id().empty()) {
    if (absl::Status s = ValidateName("customer_id", request.customer_id());
        !s.ok()) {
      return s;
    }
  }
  // The request says "address"; the shared validator names fields as an
  // order does.
  if (absl::Status s = ValidateAddress(request.address()); !s.ok()) return s;
  if (undeliverable_countries.count(request.address().country()) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("undeliverable: no shipping to country '",
                     request.address().country(), "'"));
  }
  return absl::OkStatus();
}

grpc::Status ShippingServiceImpl::CreateShipment(
    grpc::ServerContext* context, const v1::CreateShipmentRequest* request,
    v1::Shipment* response) {
  return guard_.Run(context, "CreateShipment", [&]() -> grpc::Status {
    if (absl::Status s = rules_.Check(*request); !s.ok()) {
      return ToGrpcStatus(s);
    }
    const v1::Shipment planned = PlannedShipment(*request);
    const idempotency::OneStatement once{
        planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_.CreateOnce(tx, k, planned);
        }};
    return idempotency_.Run<v1::Shipment>(
        context, "CreateShipment", *request, response, &once,
        [&](pqxx::work& tx) { return store_.CreateIn(tx, *request); });
  });
}

grpc::Status ShippingServiceImpl::CancelShipment(
    grpc::ServerContext* context, const v1::CancelShipmentRequest* request,
    v1::Shipment* response) {
  return guard_.Run(context, "CancelShipment", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    return idempotency_.Run<v1::Shipment>(
        context, "CancelShipment", *request, response, [&](pqxx::work& tx) {
          return store_.CancelIn(tx, request->order_id());
        });
  });
}

grpc::Status ShippingServiceImpl::GetShipment(
    grpc::ServerContext* context, const v1::GetShipmentRequest* request,
    v1::Shipment* response) {
  return guard_.Run(context, "GetShipment", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<v1::Shipment> shipment = store_.Get(request->order_id());
    if (shipment.ok() && !server::Caller().MaySee(shipment->customer_id())) {
      // Another customer's shipment reads as none at all.
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("no shipment for order ", request->order_id()));
    }
    return Reply(std::move(shipment), response);
  });
}

}  // namespace sagaworks::shipping
