// InventoryServiceImpl: the gRPC adapter of the inventory service. Validates
// requests, calls the store, and converts statuses at the edge.
#ifndef SAGAWORKS_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
#define SAGAWORKS_SERVICES_INVENTORY_INVENTORY_SERVICE_H_

#include "common/idempotency/idempotency.h"
#include "common/server/guard.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "services/inventory/inventory_store.h"

namespace sagaworks::inventory {

// ValidateReserveStock checks a ReserveStock request before any work.
absl::Status ValidateReserveStock(const v1::ReserveStockRequest& request);

class InventoryServiceImpl final : public v1::InventoryService::Service {
 public:
  InventoryServiceImpl(InventoryStore& store, server::ServerGuard& guard,
                       idempotency::Idempotency& idempotency)
      : guard_(guard, v1::InventoryService::service_full_name()),
        idempotency_(idempotency),
        store_(store) {}

  grpc::Status ReserveStock(grpc::ServerContext* context,
                            const v1::ReserveStockRequest* request,
                            v1::Reservation* response) override;
  grpc::Status ReleaseStock(grpc::ServerContext* context,
                            const v1::ReleaseStockRequest* request,
                            v1::Reservation* response) override;
  grpc::Status GetStock(grpc::ServerContext* context,
                        const v1::GetStockRequest* request,
                        v1::Stock* response) override;

 private:
  server::ServiceGuard guard_;
  idempotency::Idempotency& idempotency_;
  InventoryStore& store_;
};

}  // namespace sagaworks::inventory

#endif  // SAGAWORKS_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
