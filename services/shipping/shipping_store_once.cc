// ShippingStore's one-statement write (idempotency::OneStatement): the fast
// path of CreateIn, which handlers try before its transaction.
// shipping_store_test runs every shipment test through both.
#include "common/idempotency/idempotency.h"
#include "services/shipping/shipping_store.h"

namespace sagaworks::shipping {

bool ShippingStore::CreateOnce(pqxx::transaction_base& tx,
                               const idempotency::StoredKey& k,
                               const v1::Shipment& planned) {
  // Only the shipment may find nothing to do: the order has one already (a
  // tombstone too), and the full path says why. Every shipment has items, so
  // `done` has rows whenever the shipment went in.
  static const std::string sql = idempotency::KeyedStatement(
      "s AS (INSERT INTO shipments (shipment_id, order_id, status, name, "
      "  line1, city, postal_code, country, tracking_number, customer_id) "
      "  SELECT $6::uuid, $7::uuid, 'created', $8, $9, $10, $11, $12, $13, "
      "  $16 FROM fresh WHERE NOT EXISTS (SELECT 1 FROM shipments WHERE "
      "order_id = $7::uuid) "
      "  RETURNING shipment_id), "
      "done AS (INSERT INTO shipment_items (shipment_id, line, sku, quantity) "
      "  SELECT s.shipment_id, i.line - 1, i.sku, i.quantity FROM s, "
      "  unnest($14::text[], $15::int[]) WITH ORDINALITY AS i(sku, quantity, "
      "  line) RETURNING 1)");
  const v1::Address& a = planned.address();
  auto [skus, quantities] = ItemArrays(planned);
  return idempotency::ExecKeyed(
      tx, sql, k, planned.shipment_id(), planned.order_id(), a.name(),
      a.line1(), a.city(), a.postal_code(), a.country(),
      planned.tracking_number(), skus, quantities, planned.customer_id());
}

}  // namespace sagaworks::shipping
