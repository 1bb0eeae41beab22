// PaymentStore: the payments database (balances and one charge per order).
// The only payment code that speaks SQL.
#ifndef SAGAWORKS_SERVICES_PAYMENT_PAYMENT_STORE_H_
#define SAGAWORKS_SERVICES_PAYMENT_PAYMENT_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "sagaworks/v1/payment.pb.h"

namespace sagaworks::payment {

// PlannedCharge: the charge a Charge call makes, with an id drawn here.
v1::Charge PlannedCharge(const std::string& order_id,
                         const std::string& customer_id, int64_t amount_cents);

class PaymentStore {
 public:
  explicit PaymentStore(db::Pool& pool) : pool_(pool) {}

  // ChargeIn takes amount_cents from the customer for the order, in the
  // caller's transaction: NOT_FOUND for an unknown customer,
  // FAILED_PRECONDITION when the balance is short. Charging the same order
  // again with the same customer and amount returns the charge that exists;
  // otherwise, or after a refund, FAILED_PRECONDITION.
  absl::StatusOr<v1::Charge> ChargeIn(pqxx::work& tx,
                                      const std::string& order_id,
                                      const std::string& customer_id,
                                      int64_t amount_cents);

  // ChargeOnce is ChargeIn's one-statement form (payment_store_once.cc):
  // `charge`, its id drawn by the caller, and the key `k`, or nothing when
  // the order has a charge already or the balance is short (false; the
  // handler then runs ChargeIn).
  bool ChargeOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                  const v1::Charge& charge);

  // RefundIn returns the order's charge. With no charge it records a
  // refunded tombstone, so a late charge is refused.
  absl::StatusOr<v1::Charge> RefundIn(pqxx::work& tx,
                                      const std::string& order_id);

  absl::StatusOr<v1::Balance> GetBalance(const std::string& customer_id);

 private:
  db::Pool& pool_;
};

}  // namespace sagaworks::payment

#endif  // SAGAWORKS_SERVICES_PAYMENT_PAYMENT_STORE_H_
