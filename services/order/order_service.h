// OrderServiceImpl: the gRPC adapter of the order service, the platform's
// public entry point.
#ifndef SAGAWORKS_SERVICES_ORDER_ORDER_SERVICE_H_
#define SAGAWORKS_SERVICES_ORDER_ORDER_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/expiring_set.h"
#include "common/idempotency/idempotency.h"
#include "common/resilience/client.h"
#include "common/server/guard.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "services/order/order_store.h"
#include "services/order/outbox_relay.h"

namespace sagaworks::order {

// FailureCategory is what a customer is told of why their order failed:
// "insufficient funds", "out of stock", "undeliverable address",
// "cancelled" or "internal error", never another service's own words.
// `reason` is the orchestrator's ("<step>: <CODE>: <message>", or
// "cancelled[: <why>]"); operators read it whole, here and in the saga's
// timeline.
std::string FailureCategory(const std::string& reason);

// ValidateCreateOrder checks the shape of a CreateOrder request.
absl::Status ValidateCreateOrder(const v1::CreateOrderRequest& request);

// CatalogCheck refuses, before anything is stored, an order naming a SKU or
// customer that does not exist. It fails open: when inventory or payment does
// not answer, the order is accepted and the saga decides, so CreateOrder stays
// available while they are down.
// CatalogConfig: how long a customer or SKU, once confirmed by its service,
// counts as existing.
struct CatalogConfig {
  // Without asking again: neither is ever deleted, so only the first order
  // of each within this time pays for the look-up.
  absl::Duration fresh = absl::Seconds(30);
  // When its service cannot be reached: an order for one confirmed within
  // this time is accepted anyway (the saga has the final word), one for any
  // other is refused with UNAVAILABLE.
  absl::Duration stale = absl::Hours(1);
  size_t max_entries = 100000;

  absl::Status Validate() const;
};

class CatalogCheck {
 public:
  CatalogCheck(
      resilience::Client<v1::InventoryService::StubInterface> inventory,
      resilience::Client<v1::PaymentService::StubInterface> payment,
      absl::Duration timeout, CatalogConfig config = {},
      Clock& clock = RealClock::Default());

  // Check answers NOT_FOUND for an unknown SKU or customer, UNAVAILABLE for
  // one its service cannot confirm now and did not within the stale window,
  // else OK. It finishes before `inbound_deadline`.
  absl::Status Check(const v1::CreateOrderRequest& request,
                     absl::Time inbound_deadline);

 private:
  // Confirm asks `service` through `ask` whether `name` exists, unless it
  // was confirmed within the fresh window.
  absl::Status Confirm(
      const char* what, const std::string& name, const char* service,
      ExpiringSet& known, resilience::CallOptions options,
      const std::function<absl::Status(const resilience::CallOptions&)>& ask);

  resilience::Client<v1::InventoryService::StubInterface> inventory_;
  resilience::Client<v1::PaymentService::StubInterface> payment_;
  const absl::Duration timeout_;
  const CatalogConfig config_;
  ExpiringSet known_customers_;
  ExpiringSet known_skus_;
};

// WatchConfig bounds WatchOrder streams: each holds a server thread while
// it lasts, so a caller cannot hold many, nor one for ever.
struct WatchConfig {
  // How often a watch looks at its order.
  absl::Duration poll_interval = absl::Milliseconds(200);
  // A stream open this long ends with UNAVAILABLE ("watch again").
  absl::Duration max_lifetime = absl::Hours(1);
  // Streams one caller may hold open at once; more are RESOURCE_EXHAUSTED.
  int max_per_caller = 16;

  absl::Status Validate() const;
};

class OrderServiceImpl final : public v1::OrderService::Service {
 public:
  OrderServiceImpl(
      OrderStore& store, OutboxRelay& relay, CatalogCheck& catalog,
      WatchConfig watch, server::ServerGuard& guard,
      idempotency::Idempotency& idempotency,
      resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator,
      Clock& clock = RealClock::Default())
      : guard_(guard, v1::OrderService::service_full_name()),
        idempotency_(idempotency),
        orchestrator_(orchestrator),
        store_(store),
        relay_(relay),
        catalog_(catalog),
        watch_(watch),
        clock_(clock) {}

  // StopWatches ends every WatchOrder stream, so shutdown need not wait for
  // them.
  void StopWatches() {
    absl::MutexLock lock(&watch_mu_);  // wakes the waiting watches
    stopping_ = true;
  }

  grpc::Status CreateOrder(grpc::ServerContext* context,
                           const v1::CreateOrderRequest* request,
                           v1::Order* response) override;
  grpc::Status GetOrder(grpc::ServerContext* context,
                        const v1::GetOrderRequest* request,
                        v1::Order* response) override;
  grpc::Status ListOrders(grpc::ServerContext* context,
                          const v1::ListOrdersRequest* request,
                          v1::ListOrdersResponse* response) override;
  grpc::Status CancelOrder(grpc::ServerContext* context,
                           const v1::CancelOrderRequest* request,
                           v1::Order* response) override;
  grpc::Status WatchOrder(grpc::ServerContext* context,
                          const v1::WatchOrderRequest* request,
                          grpc::ServerWriter<v1::Order>* writer) override;
  grpc::Status ApproveOrder(grpc::ServerContext* context,
                            const v1::ApproveOrderRequest* request,
                            v1::Order* response) override;
  grpc::Status RejectOrder(grpc::ServerContext* context,
                           const v1::RejectOrderRequest* request,
                           v1::Order* response) override;
  grpc::Status HoldOrder(grpc::ServerContext* context,
                         const v1::HoldOrderRequest* request,
                         v1::Order* response) override;

 private:
  // Changed wakes the watches of an order this process just moved; a change
  // made by another replica is seen at the watch's next poll.
  void Changed(const std::string& order_id);

  server::ServiceGuard guard_;
  idempotency::Idempotency& idempotency_;
  resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator_;
  OrderStore& store_;
  OutboxRelay& relay_;
  CatalogCheck& catalog_;
  const WatchConfig watch_;
  absl::Mutex watch_mu_;
  // Open WatchOrder streams per caller.
  std::map<std::string, int> watches_ ABSL_GUARDED_BY(watch_mu_);
  // Orders being watched: how many watches, and how often Changed was
  // called for each while watched.
  struct Watched {
    int watches = 0;
    int64_t changes = 0;
  };
  std::map<std::string, Watched> watched_ ABSL_GUARDED_BY(watch_mu_);
  Clock& clock_;  // the time a new order is created at
  std::atomic<bool> stopping_{false};
};

}  // namespace sagaworks::order

#endif  // SAGAWORKS_SERVICES_ORDER_ORDER_SERVICE_H_
