// The statement parts that store a new order, shared by the order store's
// transaction (CreateIn) and its one-statement form (CreateOnce).
#ifndef SAGAWORKS_SERVICES_ORDER_ORDER_STATEMENTS_H_
#define SAGAWORKS_SERVICES_ORDER_ORDER_STATEMENTS_H_

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/db/exec.h"
#include "common/observability/trace.h"
#include "google/protobuf/util/time_util.h"
#include "sagaworks/v1/order.pb.h"

namespace sagaworks::order::internal {

// InsertOrder: the CTEs that store a planned order, its items and its outbox
// entry, with parameters from $`first` on (InsertOrderParams, in order).
// `from` is what the order's insert selects from; the outbox insert is named
// `done`.
inline std::string InsertOrder(int first, absl::string_view from) {
  auto p = [first](int i) { return absl::StrCat("$", first + i); };
  return absl::StrCat(
      "o AS (INSERT INTO orders (order_id, customer_id, status, ship_name, "
      "  ship_line1, ship_city, ship_postal_code, ship_country, created_at, "
      "  updated_at) "
      "  SELECT ",
      p(0), "::uuid, ", p(1), ", 'pending', ", p(2), ", ", p(3), ", ", p(4),
      ", ", p(5), ", ", p(6), ", t.at, t.at FROM ", from,
      "  (SELECT 'epoch'::timestamptz + ", p(7),
      "::bigint * interval '1 microsecond' AS at) t "
      "  RETURNING order_id), "
      "items AS (INSERT INTO order_items (order_id, line, sku, quantity) "
      "  SELECT o.order_id, i.line - 1, i.sku, i.quantity FROM o, "
      "  unnest(",
      p(8), "::text[], ", p(9),
      "::int[]) WITH ORDINALITY AS i(sku, quantity, line)), "
      "done AS (INSERT INTO outbox (order_id, traceparent) "
      "  SELECT order_id, ",
      p(10), " FROM o RETURNING 1)");
}

// InsertOrderParams: InsertOrder's parameters for `planned`, with the trace
// of the call creating the order, which goes along to the saga.
inline auto InsertOrderParams(const v1::Order& planned) {
  const v1::Address& a = planned.shipping_address();
  std::vector<std::string> skus, quantities;
  for (const v1::OrderItem& item : planned.items()) {
    skus.push_back(item.sku());
    quantities.push_back(absl::StrCat(item.quantity()));
  }
  return std::make_tuple(
      planned.order_id(), planned.customer_id(), a.name(), a.line1(), a.city(),
      a.postal_code(), a.country(),
      google::protobuf::util::TimeUtil::TimestampToMicroseconds(
          planned.create_time()),
      db::ArrayLiteral(skus), db::ArrayLiteral(quantities),
      trace::CurrentTraceparent());
}

}  // namespace sagaworks::order::internal

#endif  // SAGAWORKS_SERVICES_ORDER_ORDER_STATEMENTS_H_
