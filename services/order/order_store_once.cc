// OrderStore's fast paths: the cache of orders created here and the
// approval planned from it, and the one-statement writes
// (idempotency::OneStatement) of CreateIn and ApproveIn, which handlers try
// before their transactions. order_store_test runs every create and
// approval test through both.
#include "common/idempotency/idempotency.h"
#include "google/protobuf/util/time_util.h"
#include "services/order/order_statements.h"
#include "services/order/order_store.h"

namespace sagaworks::order {

using google::protobuf::util::TimeUtil;

void OrderStore::Remember(const v1::Order& order) {
  absl::MutexLock lock(&recent_mu_);
  if (recent_.size() >= kMaxRecentOrders) recent_.clear();
  recent_[order.order_id()] = order;
}

void OrderStore::Forget(const std::string& order_id) {
  absl::MutexLock lock(&recent_mu_);
  recent_.erase(order_id);
}

absl::StatusOr<std::optional<v1::Order>> OrderStore::PlanApproval(
    const std::string& order_id, int64_t total_cents,
    const std::string& saga_id, absl::Time now) {
  std::optional<v1::Order> order;
  {
    absl::MutexLock lock(&recent_mu_);
    auto known = recent_.find(order_id);
    if (known != recent_.end()) order = known->second;
  }
  if (!order.has_value()) {
    absl::StatusOr<std::optional<v1::Order>> read = ReadOrder(order_id);
    if (!read.ok()) return read.status();
    order = *std::move(read);
  }
  if (!order.has_value() || order->status() != v1::ORDER_STATUS_PENDING) {
    return std::nullopt;
  }
  order->set_status(v1::ORDER_STATUS_APPROVED);
  order->set_total_cents(total_cents);
  // Approving records the saga if the relay has not yet (ApproveOnce).
  if (order->saga_id().empty()) order->set_saga_id(saga_id);
  *order->mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  return order;
}

bool OrderStore::CreateOnce(pqxx::transaction_base& tx,
                            const idempotency::StoredKey& k,
                            const v1::Order& planned) {
  // A new order has nothing in its way: only a stored key stops it.
  static const std::string sql =
      idempotency::KeyedStatement(internal::InsertOrder(6, "fresh, "));
  const bool created = std::apply(
      [&](auto&&... params) {
        return idempotency::ExecKeyed(tx, sql, k, params...);
      },
      internal::InsertOrderParams(planned));
  if (created) Remember(planned);
  return created;
}

bool OrderStore::ApproveOnce(pqxx::transaction_base& tx,
                             const idempotency::StoredKey& k,
                             const v1::Order& planned) {
  // A PENDING order changes only in status, total, saga id, failure reason
  // and update time: if the first four are as planned from, the order is
  // the plan, and the update time is written here. The saga id may still be
  // missing (the relay records it later; the plan has the approving
  // saga's): then it is written too. Otherwise (a cancellation, another
  // saga id) nothing is written, and the full path reads again.
  static const std::string sql = idempotency::KeyedStatement(
      "done AS (UPDATE orders SET status = 'approved', total_cents = $7, "
      "  updated_at = 'epoch'::timestamptz + $8::bigint * "
      "    interval '1 microsecond', "
      "  saga_id = nullif($9, '')::uuid "
      "  FROM fresh WHERE order_id = $6::uuid AND status = 'pending' "
      "  AND total_cents = 0 AND failure_reason = '' "
      "  AND (saga_id IS NULL OR saga_id = nullif($9, '')::uuid) "
      "  RETURNING 1)");
  const bool approved = idempotency::ExecKeyed(
      tx, sql, k, planned.order_id(), planned.total_cents(),
      TimeUtil::TimestampToMicroseconds(planned.update_time()),
      planned.saga_id());
  if (approved) Forget(planned.order_id());
  return approved;
}

}  // namespace sagaworks::order
