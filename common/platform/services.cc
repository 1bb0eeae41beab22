#include "common/platform/services.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace sagaworks::platform {

const std::vector<ServiceInfo>& Services() {
  static const auto* const kServices = new std::vector<ServiceInfo>{
      {Service::kInventory,
       "inventory",
       "inventory-service",
       "sagaworks.v1.InventoryService",
       50053,
       9453,
       "inventory",
       {},
       "inventory service"},
      {Service::kPayment,
       "payment",
       "payment-service",
       "sagaworks.v1.PaymentService",
       50052,
       9452,
       "payments",
       {},
       "payment service"},
      {Service::kShipping,
       "shipping",
       "shipping-service",
       "sagaworks.v1.ShippingService",
       50054,
       9454,
       "shipping",
       {},
       "shipping service"},
      {Service::kOrchestrator,
       "orchestrator",
       "saga-orchestrator",
       "sagaworks.v1.SagaOrchestrator",
       50055,
       9455,
       "orchestrator",
       {Service::kOrder, Service::kPayment, Service::kInventory,
        Service::kShipping},
       "saga orchestrator"},
      {Service::kOrder,
       "order",
       "order-service",
       "sagaworks.v1.OrderService",
       50051,
       9451,
       "orders",
       {Service::kOrchestrator, Service::kInventory, Service::kPayment},
       "order service"},
  };
  return *kServices;
}

const ServiceInfo& Info(Service id) {
  for (const ServiceInfo& s : Services()) {
    if (s.id == id) return s;
  }
  // Every enumerator has a row (registry_test walks them all).
  std::fprintf(stderr, "service registry: no row for service %d\n",
               static_cast<int>(id));
  std::abort();
}

const ServiceInfo* Find(std::string_view name) {
  for (const ServiceInfo& s : Services()) {
    if (s.name == name || s.binary == name) return &s;
  }
  return nullptr;
}

std::string LocalAddress(const ServiceInfo& service) {
  return absl::StrCat("127.0.0.1:", service.port);
}

std::string DatabaseRole(const ServiceInfo& service) {
  return absl::StrCat("sagaworks_", service.name);
}

std::string LocalDatabaseUrl(const ServiceInfo& service) {
  const std::string role = DatabaseRole(service);
  return absl::StrCat("postgresql://", role, "@127.0.0.1:", kLocalDatabasePort,
                      "/", service.database, "?passfile=.sagaworks/pgauth/",
                      role, ".pgpass");
}

}  // namespace sagaworks::platform
