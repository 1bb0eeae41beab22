// OrderStore: the orders database (orders, their items, and the outbox that
// hands each new order to the saga orchestrator). The only order code that
// speaks SQL.
#ifndef SAGAWORKS_SERVICES_ORDER_ORDER_STORE_H_
#define SAGAWORKS_SERVICES_ORDER_ORDER_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "sagaworks/v1/order.pb.h"
#include "services/order/outbox.h"

namespace sagaworks::order {

// OrderNotFound is the answer for an order that does not exist, or that the
// caller may not see: the two read the same.
absl::Status OrderNotFound(const std::string& order_id);

// PlannedOrder: the PENDING order a request makes, with an id drawn here,
// created at `now`.
v1::Order PlannedOrder(const v1::CreateOrderRequest& request, absl::Time now);

class OrderStore final : public OutboxTable {
 public:
  explicit OrderStore(db::Pool& pool) : pool_(pool) {}

  // CreateIn stores a planned order and its outbox entry in the caller's
  // transaction.
  absl::StatusOr<v1::Order> CreateIn(pqxx::work& tx, const v1::Order& planned);

  // CreateOnce is CreateIn's one-statement form (order_store_once.cc): the
  // order, its outbox entry and the key `k` (false when the key is stored
  // already; the handler then runs CreateIn).
  bool CreateOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                  const v1::Order& planned);

  // Get reads one order; NOT_FOUND when unknown.
  absl::StatusOr<v1::Order> Get(const std::string& order_id);
  absl::StatusOr<v1::Order> GetIn(pqxx::work& tx, const std::string& order_id);

  // List pages through orders newest first. `page_size` is already clamped.
  absl::StatusOr<v1::ListOrdersResponse> List(
      const v1::ListOrdersRequest& request, int page_size);

  // PlanApproval makes the order that approving it would leave, for
  // ApproveOnce: nothing when it is unknown or not PENDING (the full path
  // answers those). An order this store created is known without a read.
  // `saga_id` (the approving saga) is the order's saga if it has none yet.
  absl::StatusOr<std::optional<v1::Order>> PlanApproval(
      const std::string& order_id, int64_t total_cents,
      const std::string& saga_id, absl::Time now);

  // ApproveOnce is ApproveIn's one-statement form (order_store_once.cc):
  // the approval and the key `k`, or nothing when the order changed since
  // it was planned from (false; the handler then runs ApproveIn).
  bool ApproveOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                   const v1::Order& planned);

  // ApproveIn moves a PENDING (or on hold) order to APPROVED; approving an
  // APPROVED order again returns it. A REJECTED or CANCELLED order:
  // FAILED_PRECONDITION. RejectIn moves a PENDING order to REJECTED with a
  // reason (CANCELLED, also from APPROVED, when the saga was undone because
  // of a cancellation); doing it again returns the order. Any other
  // transition: FAILED_PRECONDITION. Both also give the order `saga_id`
  // (unless empty) if it has no saga id yet.
  absl::StatusOr<v1::Order> ApproveIn(pqxx::work& tx,
                                      const std::string& order_id,
                                      int64_t total_cents,
                                      const std::string& saga_id);
  absl::StatusOr<v1::Order> RejectIn(pqxx::work& tx,
                                     const std::string& order_id,
                                     const std::string& reason,
                                     int64_t total_cents, bool cancelled,
                                     const std::string& saga_id);
  // HoldIn puts a pending or approved order on hold (NEEDS_ATTENTION) for
  // an operator, keeping its total.
  absl::StatusOr<v1::Order> HoldIn(pqxx::work& tx, const std::string& order_id,
                                   const std::string& reason,
                                   const std::string& saga_id);

  using Delivery = OutboxDelivery;
  using Backlog = OutboxBacklogSize;

  // The outbox (OutboxTable).
  absl::StatusOr<std::vector<OutboxEntry>> DueOutbox(int limit) override;
  absl::Status MarkDelivered(const std::vector<Delivery>& deliveries) override;
  absl::StatusOr<Backlog> OutboxBacklog(
      const std::vector<std::string>& delivered) override;
  absl::Status MarkAttemptFailed(const OutboxEntry& entry,
                                 const std::string& error,
                                 absl::Duration retry_after) override;

 private:
  // Orders remembered at most; more and all are forgotten at once (a
  // forgotten order costs its approval a read).
  static constexpr size_t kMaxRecentOrders = 20000;

  // ReadOrder reads an order in one autocommitted statement, for a plan;
  // nothing when it does not exist.
  absl::StatusOr<std::optional<v1::Order>> ReadOrder(
      const std::string& order_id);

  // Remember keeps an order this store created, until it is approved or
  // rejected, so that approving it needs no read (PlanApproval).
  void Remember(const v1::Order& order);
  void Forget(const std::string& order_id);

  db::Pool& pool_;
  absl::Mutex recent_mu_;
  absl::flat_hash_map<std::string, v1::Order> recent_
      ABSL_GUARDED_BY(recent_mu_);
};

}  // namespace sagaworks::order

#endif  // SAGAWORKS_SERVICES_ORDER_ORDER_STORE_H_
