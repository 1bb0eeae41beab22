// The order outbox as the relay sees it: entries to hand to the
// orchestrator, the table that keeps them (OrderStore; a fake in unit
// tests), and the call that starts a saga (the orchestrator's StartSaga).
#ifndef SAGAWORKS_SERVICES_ORDER_OUTBOX_H_
#define SAGAWORKS_SERVICES_ORDER_OUTBOX_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sagaworks/v1/orchestrator.pb.h"
#include "sagaworks/v1/order.pb.h"

namespace sagaworks::order {

// An order waiting to be handed to the orchestrator.
struct OutboxEntry {
  int attempts = 0;
  v1::Order order;
  // The W3C traceparent of the CreateOrder call, or empty.
  std::string traceparent;
};

// OutboxDelivery: an order whose entry the orchestrator accepted, with the
// saga it started.
struct OutboxDelivery {
  std::string order_id;
  std::string saga_id;
};

// OutboxBacklogSize: how many entries wait for delivery and how long the oldest
// has waited (zero when none).
struct OutboxBacklogSize {
  int64_t pending = 0;
  absl::Duration oldest = absl::ZeroDuration();
};

class OutboxTable {
 public:
  virtual ~OutboxTable() = default;
  // DueOutbox returns up to `limit` undelivered entries whose next attempt is
  // due, oldest first.
  virtual absl::StatusOr<std::vector<OutboxEntry>> DueOutbox(int limit) = 0;
  // MarkDelivered records, in one transaction, that the orchestrator
  // accepted these entries: they leave the outbox, and each order gets its
  // saga id.
  virtual absl::Status MarkDelivered(
      const std::vector<OutboxDelivery>& deliveries) = 0;
  // MarkAttemptFailed records a failed delivery and when to try again.
  virtual absl::Status MarkAttemptFailed(const OutboxEntry& entry,
                                         const std::string& error,
                                         absl::Duration retry_after) = 0;
  // OutboxBacklog counts what waits; `delivered` (order ids) are not
  // counted: delivered, their record is still to come.
  virtual absl::StatusOr<OutboxBacklogSize> OutboxBacklog(
      const std::vector<std::string>& delivered) = 0;
};

// SagaStarter makes one StartSaga call for an entry (any thread), keyed by
// `idempotency_key`, answering by `deadline`.
class SagaStarter {
 public:
  virtual ~SagaStarter() = default;
  virtual absl::Status StartSaga(const v1::StartSagaRequest& request,
                                 const std::string& idempotency_key,
                                 absl::Time deadline, std::string* saga_id) = 0;
};

}  // namespace sagaworks::order

#endif  // SAGAWORKS_SERVICES_ORDER_OUTBOX_H_
