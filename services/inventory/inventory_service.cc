#include "services/inventory/inventory_service.h"

#include "common/grpc_reply.h"
#include "common/validation.h"

namespace sagaworks::inventory {

absl::Status ValidateReserveStock(const v1::ReserveStockRequest& request) {
  if (absl::Status s = ValidateUuid("order_id", request.order_id()); !s.ok()) {
    return s;
  }
  return ValidateItems(request.items());
}

grpc::Status InventoryServiceImpl::ReserveStock(
    grpc::ServerContext* context, const v1::ReserveStockRequest* request,
    v1::Reservation* response) {
  return guard_.Run(context, "ReserveStock", [&]() -> grpc::Status {
    if (absl::Status s = ValidateReserveStock(*request); !s.ok()) {
      return ToGrpcStatus(s);
    }
    // The prices first, so that the reservation and its key can go in one
    // statement: two round trips instead of five or more. With no plan (a
    // read error, an unknown SKU) the full path decides.
    absl::StatusOr<std::optional<v1::Reservation>> plan =
        store_.PlanReservation(request->order_id(), request->items());
    std::optional<idempotency::OneStatement> once;
    if (plan.ok() && plan->has_value()) {
      const v1::Reservation& planned = **plan;
      once.emplace(idempotency::OneStatement{
          planned,
          [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
            return store_.ReserveOnce(tx, k, planned);
          }});
    }
    return idempotency_.Run<v1::Reservation>(
        context, "ReserveStock", *request, response,
        once.has_value() ? &*once : nullptr, [&](pqxx::work& tx) {
          return store_.ReserveIn(tx, request->order_id(), request->items());
        });
  });
}

grpc::Status InventoryServiceImpl::ReleaseStock(
    grpc::ServerContext* context, const v1::ReleaseStockRequest* request,
    v1::Reservation* response) {
  return guard_.Run(context, "ReleaseStock", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    return idempotency_.Run<v1::Reservation>(
        context, "ReleaseStock", *request, response, [&](pqxx::work& tx) {
          return store_.ReleaseIn(tx, request->order_id());
        });
  });
}

grpc::Status InventoryServiceImpl::GetStock(grpc::ServerContext* context,
                                            const v1::GetStockRequest* request,
                                            v1::Stock* response) {
  return guard_.Run(context, "GetStock", [&]() -> grpc::Status {
    if (absl::Status s = ValidateName("sku", request->sku()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    return Reply(store_.GetStock(request->sku()), response);
  });
}

}  // namespace sagaworks::inventory
