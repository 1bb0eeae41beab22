#include "services/order/outbox_relay.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace sagaworks::order {

OutboxRelay::OutboxRelay(
    OrderStore& store,
    resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator,
    OutboxRelayConfig config)
    : store_(store),
      orchestrator_(orchestrator),
      config_(config),
      rng_(config.seed) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::Notify() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void OutboxRelay::Run() {
  while (true) {
    const int tried = DeliverDue();
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    // A full batch means more may be due: go again at once.
    if (tried < config_.batch_size) {
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return wake_ || stop_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&woken), config_.poll_interval);
    }
    wake_ = false;
    if (stop_) return;
  }
}

int OutboxRelay::DeliverDue() {
  absl::StatusOr<std::vector<OutboxEntry>> due =
      store_.DueOutbox(config_.batch_size);
  if (!due.ok()) {
    LogWarning(absl::StrCat("outbox: cannot read: ", due.status().message()));
    return 0;
  }
  for (const OutboxEntry& entry : *due) {
    v1::StartSagaRequest request;
    request.set_order_id(entry.order.order_id());
    request.set_customer_id(entry.order.customer_id());
    *request.mutable_items() = entry.order.items();
    *request.mutable_shipping_address() = entry.order.shipping_address();
    // StartSaga is keyed by order id: a repeat starts no second saga.
    resilience::CallOptions options;
    options.idempotent = true;
    options.deadline = absl::Now() + config_.call_timeout;
    options.metadata = {
        {"idempotency-key",
         absl::StrCat("order:", entry.order.order_id(), ":start-saga")},
        {"x-tenant-id", "order-service"}};
    v1::Saga saga;
    const absl::Status status = orchestrator_.Call(
        "StartSaga", options, &v1::SagaOrchestrator::StubInterface::StartSaga,
        request, &saga);
    absl::Status recorded;
    if (status.ok()) {
      recorded = store_.MarkDelivered(entry, saga.saga_id());
    } else {
      std::uniform_real_distribution<double> uniform(0.0, 1.0);
      const absl::Duration retry_after =
          BackoffDelay(config_.backoff, entry.attempts + 1, uniform(rng_));
      LogWarning(absl::StrCat("outbox: StartSaga for order ",
                              entry.order.order_id(), " failed (attempt ",
                              entry.attempts + 1,
                              "): ", DescribeStatus(status)));
      recorded =
          store_.MarkAttemptFailed(entry, DescribeStatus(status), retry_after);
    }
    if (!recorded.ok()) {
      // The entry stays due and goes out again; StartSaga is keyed by order.
      LogWarning(
          absl::StrCat("outbox: cannot record delivery: ", recorded.message()));
    }
  }
  return static_cast<int>(due->size());
}

}  // namespace sagaworks::order
