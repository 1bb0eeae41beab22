// InventoryStore's one-statement write (idempotency::OneStatement): the
// fast path of ReserveIn, which handlers try before its transaction.
// inventory_store_test runs every reservation test through both.
#include "common/idempotency/idempotency.h"
#include "services/inventory/inventory_store.h"

namespace sagaworks::inventory {

bool InventoryStore::ReserveOnce(pqxx::transaction_base& tx,
                                 const idempotency::StoredKey& k,
                                 const v1::Reservation& plan) {
  // `locked` takes the SKUs' rows in SKU order, as ReserveIn does, so
  // reservations of overlapping items cannot deadlock; it reads them as they
  // are now. `ok` has a row only if the order has no reservation and every
  // item is there at its planned price: otherwise nothing is written and
  // the full path says why. Past `ok` every write has rows to write; a
  // racing reservation of the same order fails on the order's unique index.
  static const std::string sql = idempotency::KeyedStatement(
      "locked AS (SELECT s.sku, s.available, s.price_cents FROM stock s, fresh "
      "  WHERE s.sku = ANY($8::text[]) AND NOT EXISTS "
      "  (SELECT 1 FROM reservations WHERE order_id = $7::uuid) "
      "  ORDER BY s.sku FOR UPDATE OF s), "
      "ok AS (SELECT FROM locked l JOIN "
      "  unnest($8::text[], $9::int[], $10::bigint[]) AS i(sku, quantity, "
      "  price) ON l.sku = i.sku "
      "  HAVING count(*) FILTER (WHERE l.available >= i.quantity AND "
      "  l.price_cents = i.price) = cardinality($8::text[])), "
      "taken AS (UPDATE stock s SET available = s.available - i.quantity, "
      "  reserved = s.reserved + i.quantity "
      "  FROM ok, unnest($8::text[], $9::int[]) AS i(sku, quantity) "
      "  WHERE s.sku = i.sku RETURNING 1), "
      "r AS (INSERT INTO reservations (reservation_id, order_id, status, "
      "  total_cents) SELECT $6::uuid, $7::uuid, 'reserved', $11 FROM ok "
      "  RETURNING reservation_id), "
      "done AS (INSERT INTO reservation_items (reservation_id, sku, quantity, "
      "  unit_price_cents) SELECT r.reservation_id, i.sku, i.quantity, "
      "  i.price FROM r, unnest($8::text[], $9::int[], $10::bigint[]) "
      "  AS i(sku, quantity, price) RETURNING 1)");
  std::vector<std::string> skus, quantities, prices;
  for (const v1::ReservedItem& item : plan.items()) {
    skus.push_back(item.sku());
    quantities.push_back(absl::StrCat(item.quantity()));
    prices.push_back(absl::StrCat(item.unit_price_cents()));
  }
  return idempotency::ExecKeyed(tx, sql, k, plan.reservation_id(),
                                plan.order_id(), db::ArrayLiteral(skus),
                                db::ArrayLiteral(quantities),
                                db::ArrayLiteral(prices), plan.total_cents());
}

}  // namespace sagaworks::inventory
