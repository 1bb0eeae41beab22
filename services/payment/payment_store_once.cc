// PaymentStore's one-statement write (idempotency::OneStatement): the fast
// path of Charge, which handlers try before ChargeIn's transaction.
// payment_store_test runs every charge test through both.
#include "common/idempotency/idempotency.h"
#include "services/payment/payment_store.h"

namespace sagaworks::payment {

bool PaymentStore::ChargeOnce(pqxx::transaction_base& tx,
                              const idempotency::StoredKey& k,
                              const v1::Charge& charge) {
  // The debit is the only step that may find nothing to do; an existing
  // charge (a tombstone too) stops it, so the full path explains why. Two
  // racing first charges of one order collide on the order's unique index,
  // and the loser's debit rolls back with it.
  static const std::string sql = idempotency::KeyedStatement(
      "debit AS (UPDATE accounts SET balance_cents = balance_cents - $9 "
      "  FROM fresh WHERE customer_id = $8 AND balance_cents >= $9 "
      "  AND NOT EXISTS (SELECT 1 FROM charges WHERE order_id = $7::uuid) "
      "  RETURNING 1), "
      "done AS (INSERT INTO charges (charge_id, order_id, customer_id, "
      "  amount_cents, status) "
      "  SELECT $6::uuid, $7::uuid, $8, $9, 'charged' FROM debit "
      "  RETURNING 1)");
  return idempotency::ExecKeyed(tx, sql, k, charge.charge_id(),
                                charge.order_id(), charge.customer_id(),
                                charge.amount_cents());
}

}  // namespace sagaworks::payment
