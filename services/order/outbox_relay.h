// OutboxRelay: delivers each new order to the saga orchestrator (StartSaga,
// keyed by order id, so a repeated delivery starts no second saga). It wakes
// when an order is created and also polls, so entries left by a crash or a
// failed delivery go out once the orchestrator answers again.
#ifndef SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_
#define SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_

#include <memory>
#include <random>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/resilience/client.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "services/order/order_store.h"

namespace sagaworks::order {

struct OutboxRelayConfig {
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration call_timeout = absl::Seconds(5);
  int batch_size = 64;
  // StartSaga calls out at once. One at a time, each waiting for the
  // orchestrator's commit, caps the platform at a few hundred orders/s.
  int concurrency = 16;
  BackoffConfig backoff{absl::Milliseconds(200), absl::Seconds(10), 2.0};
  uint64_t seed = std::random_device{}();
};

class OutboxRelay {
 public:
  OutboxRelay(
      OrderStore& store,
      resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator,
      OutboxRelayConfig config);
  ~OutboxRelay();

  void Start();
  // Stop finishes the delivery in progress and joins the thread.
  void Stop();
  // Notify wakes the relay: an entry was just committed.
  void Notify();

 private:
  void Run();
  // Delivers the due entries; returns how many it tried.
  int DeliverDue();
  // Deliver makes one StartSaga call (any thread).
  absl::Status Deliver(const OutboxEntry& entry, std::string* saga_id);

  OrderStore& store_;
  resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator_;
  const OutboxRelayConfig config_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sagaworks::order

#endif  // SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_
