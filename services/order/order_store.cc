#include "services/order/order_store.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/db/exec.h"
#include "common/enum_names.h"
#include "common/observability/trace.h"
#include "common/page_token.h"
#include "common/uuid.h"
#include "google/protobuf/util/time_util.h"
#include "services/order/order_statements.h"

namespace sagaworks::order {

absl::Status OrderNotFound(const std::string& order_id) {
  return absl::NotFoundError(absl::StrCat("no order ", order_id));
}
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kOrderColumns[] =
    "order_id, customer_id, status, total_cents, coalesce(saga_id::text, ''), "
    "failure_reason, ship_name, ship_line1, ship_city, ship_postal_code, "
    "ship_country, (extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint";

// The columns OrderFromRow reads, in its order.
constexpr int kOrderColumnCount = 13;

// An order's items, as two arrays after kOrderColumns: the order and its
// items in one statement.
constexpr char kItemColumns[] =
    "ARRAY(SELECT sku FROM order_items i WHERE i.order_id = orders.order_id "
    "      ORDER BY line), "
    "ARRAY(SELECT quantity FROM order_items i "
    "      WHERE i.order_id = orders.order_id ORDER BY line)";

// Reads the kItemColumns at `at` into the order.
void ItemsFromRow(const pqxx::row& row, int at, v1::Order* order) {
  const std::vector<std::string> skus = db::ArrayValues(row[at]);
  const std::vector<std::string> quantities = db::ArrayValues(row[at + 1]);
  for (size_t i = 0; i < skus.size() && i < quantities.size(); ++i) {
    v1::OrderItem* item = order->add_items();
    item->set_sku(skus[i]);
    item->set_quantity(std::stoi(quantities[i]));
  }
}

v1::OrderStatus StatusFromDb(const std::string& s) {
  v1::OrderStatus status = v1::ORDER_STATUS_UNSPECIFIED;
  ParseShortEnumName(s, v1::OrderStatus_Parse, "ORDER_STATUS_", &status);
  return status;
}

std::string StatusToDb(v1::OrderStatus s) {
  return ShortEnumName(s, v1::OrderStatus_Name<v1::OrderStatus>,
                       "ORDER_STATUS_");
}

v1::Order OrderFromRow(const pqxx::row& row) {
  v1::Order o;
  o.set_order_id(row[0].as<std::string>());
  o.set_customer_id(row[1].as<std::string>());
  o.set_status(StatusFromDb(row[2].as<std::string>()));
  o.set_total_cents(row[3].as<int64_t>());
  o.set_saga_id(row[4].as<std::string>());
  o.set_failure_reason(row[5].as<std::string>());
  v1::Address* a = o.mutable_shipping_address();
  a->set_name(row[6].as<std::string>());
  a->set_line1(row[7].as<std::string>());
  a->set_city(row[8].as<std::string>());
  a->set_postal_code(row[9].as<std::string>());
  a->set_country(row[10].as<std::string>());
  *o.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(row[11].as<int64_t>());
  *o.mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(row[12].as<int64_t>());
  return o;
}

// An order read with kOrderColumns followed by kItemColumns.
v1::Order OrderWithItemsFromRow(const pqxx::row& row) {
  v1::Order order = OrderFromRow(row);
  ItemsFromRow(row, kOrderColumnCount, &order);
  return order;
}

std::optional<v1::Order> LoadOrder(pqxx::work& tx,
                                   const std::string& order_id) {
  pqxx::result r =
      db::Exec(tx,
               absl::StrCat("SELECT ", kOrderColumns, ", ", kItemColumns,
                            " FROM orders WHERE order_id = $1"),
               order_id);
  if (r.empty()) return std::nullopt;
  return OrderWithItemsFromRow(r[0]);
}

// Moves a PENDING order to `to`, or returns it unchanged when it is already
// there; any other state is FAILED_PRECONDITION.
absl::StatusOr<v1::Order> Finish(pqxx::work& tx, const std::string& order_id,
                                 v1::OrderStatus to, const std::string& reason,
                                 int64_t total_cents,
                                 const std::string& saga_id) {
  // The common case in one statement; a cancelled order may have been
  // approved first (its saga undid it). The saga id is the one the relay
  // recorded, else the one the saga's call brings.
  pqxx::result moved = db::Exec(
      tx,
      absl::StrCat("UPDATE orders SET status = $2, failure_reason = $3, "
                   "total_cents = $4, updated_at = now(), "
                   "saga_id = coalesce(saga_id, nullif($5, '')::uuid) "
                   "WHERE order_id = $1 AND (status IN ('pending', "
                   "'needs_attention') OR (status = 'approved' AND "
                   "$2 IN ('cancelled', 'needs_attention'))) "
                   "RETURNING ",
                   kOrderColumns, ", ", kItemColumns),
      order_id, StatusToDb(to), reason, total_cents, saga_id);
  if (!moved.empty()) return OrderWithItemsFromRow(moved[0]);
  std::optional<v1::Order> order = LoadOrder(tx, order_id);
  if (!order.has_value()) return OrderNotFound(order_id);
  if (order->status() != to) {
    return absl::FailedPreconditionError(
        absl::StrCat("order ", order_id, " is ", StatusToDb(order->status()),
                     "; it cannot become ", StatusToDb(to)));
  }
  return *order;
}

}  // namespace

v1::Order PlannedOrder(const v1::CreateOrderRequest& request, absl::Time now) {
  v1::Order order;
  order.set_order_id(NewUuid());
  order.set_customer_id(request.customer_id());
  *order.mutable_items() = request.items();
  order.set_status(v1::ORDER_STATUS_PENDING);
  *order.mutable_shipping_address() = request.shipping_address();
  // The database keeps microseconds: the answer says what a read will say.
  const int64_t micros = absl::ToUnixMicros(now);
  *order.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(micros);
  *order.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(micros);
  return order;
}

absl::StatusOr<v1::Order> OrderStore::CreateIn(pqxx::work& tx,
                                               const v1::Order& planned) {
  static const std::string sql =
      absl::StrCat("WITH ", internal::InsertOrder(1, ""), " SELECT 1");
  std::apply([&](auto&&... params) { db::Exec(tx, sql, params...); },
             internal::InsertOrderParams(planned));
  return planned;
}

absl::StatusOr<v1::Order> OrderStore::GetIn(pqxx::work& tx,
                                            const std::string& order_id) {
  std::optional<v1::Order> order = LoadOrder(tx, order_id);
  if (!order.has_value()) return OrderNotFound(order_id);
  return *order;
}

absl::StatusOr<v1::Order> OrderStore::Get(const std::string& order_id) {
  return pool_.ReadOr<v1::Order>(
      "get_order", [&](pqxx::work& tx) { return GetIn(tx, order_id); });
}

absl::StatusOr<v1::ListOrdersResponse> OrderStore::List(
    const v1::ListOrdersRequest& request, int page_size) {
  PageCursor cursor;
  bool has_cursor = false;
  if (!request.page_token().empty()) {
    absl::StatusOr<PageCursor> decoded = DecodePageToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    cursor = *decoded;
    has_cursor = true;
  } else {
    cursor.id = "00000000-0000-0000-0000-000000000000";
  }
  return pool_.ReadOr<v1::ListOrdersResponse>(
      "list_orders",
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListOrdersResponse> {
        // One row more than the page tells whether another page follows;
        // the orders come with their items.
        pqxx::result r = db::Exec(
            tx,
            absl::StrCat(
                "SELECT ", kOrderColumns, ", ", kItemColumns,
                " FROM orders WHERE ($1 = '' OR customer_id = $1) "
                "AND ($2 = '' OR status = $2) "
                "AND (NOT $3 OR (created_at, order_id) < "
                "('epoch'::timestamptz + $4 * interval '1 microsecond', "
                "$5::uuid)) "
                "ORDER BY created_at DESC, order_id DESC LIMIT $6"),
            request.customer_id(), StatusToDb(request.status()), has_cursor,
            cursor.created_at_micros, cursor.id, page_size + 1);
        v1::ListOrdersResponse response;
        for (int i = 0; i < static_cast<int>(r.size()) && i < page_size; ++i) {
          *response.add_orders() = OrderWithItemsFromRow(r[i]);
        }
        if (static_cast<int>(r.size()) > page_size) {
          const v1::Order& last = response.orders(page_size - 1);
          response.set_next_page_token(EncodePageToken(
              {TimeUtil::TimestampToMicroseconds(last.create_time()),
               last.order_id()}));
        }
        return response;
      });
}

absl::StatusOr<std::optional<v1::Order>> OrderStore::ReadOrder(
    const std::string& order_id) {
  std::optional<v1::Order> order;
  absl::Status read = pool_.Autocommit(
      "plan_approval", [&](pqxx::nontransaction& tx) -> absl::Status {
        pqxx::result r =
            db::Exec(tx,
                     absl::StrCat("SELECT ", kOrderColumns, ", ", kItemColumns,
                                  " FROM orders WHERE order_id = $1"),
                     order_id);
        if (!r.empty()) order = OrderWithItemsFromRow(r[0]);
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  return order;
}

absl::StatusOr<v1::Order> OrderStore::ApproveIn(pqxx::work& tx,
                                                const std::string& order_id,
                                                int64_t total_cents,
                                                const std::string& saga_id) {
  // Whatever the outcome, the order is no longer one to approve.
  Forget(order_id);
  return Finish(tx, order_id, v1::ORDER_STATUS_APPROVED, "", total_cents,
                saga_id);
}

absl::StatusOr<v1::Order> OrderStore::RejectIn(
    pqxx::work& tx, const std::string& order_id, const std::string& reason,
    int64_t total_cents, bool cancelled, const std::string& saga_id) {
  Forget(order_id);
  return Finish(
      tx, order_id,
      cancelled ? v1::ORDER_STATUS_CANCELLED : v1::ORDER_STATUS_REJECTED,
      reason, total_cents, saga_id);
}

absl::StatusOr<v1::Order> OrderStore::HoldIn(pqxx::work& tx,
                                             const std::string& order_id,
                                             const std::string& reason,
                                             const std::string& saga_id) {
  Forget(order_id);
  std::optional<v1::Order> order = LoadOrder(tx, order_id);
  if (!order.has_value()) return OrderNotFound(order_id);
  return Finish(tx, order_id, v1::ORDER_STATUS_NEEDS_ATTENTION, reason,
                order->total_cents(), saga_id);
}

absl::StatusOr<std::vector<OutboxEntry>> OrderStore::DueOutbox(int limit) {
  return pool_.AutocommitOr<std::vector<OutboxEntry>>(
      "due_outbox",
      [&](pqxx::nontransaction& tx)
          -> absl::StatusOr<std::vector<OutboxEntry>> {
        // The due entries with their orders and items in one query. Soonest due
        // first, which is the order of outbox_pending: the scan stops after
        // `limit` entries. (In id order it walked the primary key past
        // every entry ever delivered: milliseconds a batch after a few
        // thousand orders, and growing with the table.)
        pqxx::result r = db::Exec(
            tx,
            absl::StrCat(
                "SELECT ", kOrderColumns, ", ", kItemColumns,
                ", due_attempts, due_traceparent FROM orders JOIN ("
                "  SELECT id AS due_id, order_id AS due_order, "
                "  attempts AS due_attempts, traceparent AS due_traceparent "
                "  FROM outbox "
                "  WHERE next_attempt_at <= now() "
                "  ORDER BY next_attempt_at LIMIT $1) due "
                "  ON orders.order_id = due_order "
                "ORDER BY due_id"),
            limit);
        // The outbox's columns follow the order's and its two item arrays.
        const int n = kOrderColumnCount + 2;
        std::vector<OutboxEntry> out(r.size());
        for (size_t i = 0; i < r.size(); ++i) {
          out[i].order = OrderWithItemsFromRow(r[i]);
          out[i].attempts = r[i][n].as<int>();
          out[i].traceparent = r[i][n + 1].as<std::string>();
        }
        return out;
      });
}

absl::Status OrderStore::MarkDelivered(
    const std::vector<Delivery>& deliveries) {
  std::vector<std::string> order_ids, saga_ids;
  for (const Delivery& d : deliveries) {
    order_ids.push_back(d.order_id);
    saga_ids.push_back(d.saga_id);
  }
  // The entries go and the orders get their sagas in one statement, which
  // commits by itself: one round trip instead of four (BEGIN, two writes,
  // COMMIT). An entry delivered twice (handed over and read back at once;
  // StartSaga answered the repeat from its key) is recorded once.
  absl::Status status =
      pool_.Autocommit("outbox_delivered", [&](pqxx::nontransaction& tx) {
        db::Exec(
            tx,
            "WITH delivered AS (DELETE FROM outbox "
            "  WHERE order_id = ANY($1::uuid[])) "
            "UPDATE orders SET saga_id = d.saga_id, "
            // An order already final keeps the time it became final.
            "  updated_at = CASE WHEN status = 'pending' THEN now() "
            "    ELSE updated_at END "
            "FROM unnest($1::uuid[], $2::uuid[]) AS d(order_id, saga_id) "
            "WHERE orders.order_id = d.order_id AND orders.saga_id IS NULL",
            db::ArrayLiteral(order_ids), db::ArrayLiteral(saga_ids));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  // Only an order that had no saga id got this one (a row updated by the
  // statement); the remembered orders have none until this point.
  absl::MutexLock lock(&recent_mu_);
  for (const Delivery& d : deliveries) {
    auto known = recent_.find(d.order_id);
    if (known != recent_.end() && known->second.saga_id().empty()) {
      known->second.set_saga_id(d.saga_id);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<OrderStore::Backlog> OrderStore::OutboxBacklog(
    const std::vector<std::string>& delivered) {
  return pool_.AutocommitOr<Backlog>(
      "outbox_backlog",
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<Backlog> {
        pqxx::result r =
            db::Exec(tx,
                     "SELECT count(*), coalesce(extract(epoch FROM now() - "
                     "min(created_at)), 0)::float8 FROM outbox "
                     "WHERE order_id <> ALL($1::uuid[])",
                     db::ArrayLiteral(delivered));
        Backlog b;
        b.pending = r[0][0].as<int64_t>();
        b.oldest = absl::Seconds(r[0][1].as<double>());
        return b;
      });
}

absl::Status OrderStore::MarkAttemptFailed(const OutboxEntry& entry,
                                           const std::string& error,
                                           absl::Duration retry_after) {
  return pool_.Autocommit("outbox_failed", [&](pqxx::nontransaction& tx) {
    db::Exec(tx,
             "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
             "next_attempt_at = now() + $3 * interval '1 millisecond' "
             "WHERE order_id = $1",
             entry.order.order_id(), error,
             absl::ToInt64Milliseconds(retry_after));
    return absl::OkStatus();
  });
}

}  // namespace sagaworks::order
