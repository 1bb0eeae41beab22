// ShippingServiceImpl: the gRPC adapter of the shipping service. Refuses
// addresses in countries it cannot deliver to.
#ifndef SAGAWORKS_SERVICES_SHIPPING_SHIPPING_SERVICE_H_
#define SAGAWORKS_SERVICES_SHIPPING_SHIPPING_SERVICE_H_

#include <set>
#include <string>

#include "common/idempotency/idempotency.h"
#include "common/server/guard.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "services/shipping/shipping_store.h"

namespace sagaworks::shipping {

// ShippingRules: the business rules of creating a shipment.
struct ShippingRules {
  // ISO codes shipping refuses (FAILED_PRECONDITION, "undeliverable").
  std::set<std::string> undeliverable_countries = {"ZZ"};

  // Check validates the request and applies the rules.
  absl::Status Check(const v1::CreateShipmentRequest& request) const;
};

class ShippingServiceImpl final : public v1::ShippingService::Service {
 public:
  ShippingServiceImpl(ShippingStore& store, ShippingRules rules,
                      server::ServerGuard& guard,
                      idempotency::Idempotency& idempotency)
      : guard_(guard, v1::ShippingService::service_full_name()),
        idempotency_(idempotency),
        store_(store),
        rules_(std::move(rules)) {}

  grpc::Status CreateShipment(grpc::ServerContext* context,
                              const v1::CreateShipmentRequest* request,
                              v1::Shipment* response) override;
  grpc::Status CancelShipment(grpc::ServerContext* context,
                              const v1::CancelShipmentRequest* request,
                              v1::Shipment* response) override;
  grpc::Status GetShipment(grpc::ServerContext* context,
                           const v1::GetShipmentRequest* request,
                           v1::Shipment* response) override;

 private:
  server::ServiceGuard guard_;
  idempotency::Idempotency& idempotency_;
  ShippingStore& store_;
  const ShippingRules rules_;
};

}  // namespace sagaworks::shipping

#endif  // SAGAWORKS_SERVICES_SHIPPING_SHIPPING_SERVICE_H_
