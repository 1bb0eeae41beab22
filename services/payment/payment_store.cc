#include "services/payment/payment_store.h"

#include "absl/strings/str_cat.h"
#include "common/db/exec.h"
#include "common/uuid.h"

namespace sagaworks::payment {
namespace {

v1::Charge LoadCharge(pqxx::work& tx, const std::string& order_id) {
  pqxx::result r = db::Exec(
      tx,
      "SELECT charge_id, coalesce(customer_id, ''), amount_cents, status "
      "FROM charges WHERE order_id = $1",
      order_id);
  v1::Charge out;
  out.set_charge_id(r[0][0].as<std::string>());
  out.set_order_id(order_id);
  out.set_customer_id(r[0][1].as<std::string>());
  out.set_amount_cents(r[0][2].as<int64_t>());
  out.set_status(r[0][3].as<std::string>() == "charged"
                     ? v1::CHARGE_STATUS_CHARGED
                     : v1::CHARGE_STATUS_REFUNDED);
  return out;
}

}  // namespace

absl::StatusOr<v1::Charge> PaymentStore::ChargeIn(
    pqxx::work& tx, const std::string& order_id, const std::string& customer_id,
    int64_t amount_cents) {
  // Claims the order first: a concurrent duplicate waits here on the
  // unique index, then finds the committed charge. If the debit below
  // fails, the rollback removes the claim too.
  pqxx::result claimed = db::Exec(
      tx,
      "INSERT INTO charges (order_id, customer_id, amount_cents, status) "
      "VALUES ($1, $2, $3, 'charged') ON CONFLICT (order_id) DO NOTHING "
      "RETURNING charge_id",
      order_id, customer_id, amount_cents);
  if (claimed.empty()) {
    v1::Charge charge = LoadCharge(tx, order_id);
    if (charge.status() == v1::CHARGE_STATUS_REFUNDED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "order ", order_id, " was already refunded; it cannot be charged"));
    }
    if (charge.customer_id() != customer_id ||
        charge.amount_cents() != amount_cents) {
      return absl::FailedPreconditionError(
          absl::StrCat("order ", order_id, " already has a different charge"));
    }
    return charge;
  }
  pqxx::result debited =
      db::Exec(tx,
               "UPDATE accounts SET balance_cents = balance_cents - $2 "
               "WHERE customer_id = $1 AND balance_cents >= $2 "
               "RETURNING balance_cents",
               customer_id, amount_cents);
  if (debited.empty()) {
    pqxx::result account = db::Exec(
        tx, "SELECT balance_cents FROM accounts WHERE customer_id = $1",
        customer_id);
    if (account.empty()) {
      return absl::NotFoundError(
          absl::StrCat("unknown customer '", customer_id, "'"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("insufficient funds: customer '", customer_id, "' has ",
                     account[0][0].as<int64_t>(), " cents, charge is ",
                     amount_cents, " cents"));
  }
  v1::Charge charge;
  charge.set_charge_id(claimed[0][0].as<std::string>());
  charge.set_order_id(order_id);
  charge.set_customer_id(customer_id);
  charge.set_amount_cents(amount_cents);
  charge.set_status(v1::CHARGE_STATUS_CHARGED);
  return charge;
}

v1::Charge PlannedCharge(const std::string& order_id,
                         const std::string& customer_id, int64_t amount_cents) {
  v1::Charge charge;
  charge.set_charge_id(NewUuid());
  charge.set_order_id(order_id);
  charge.set_customer_id(customer_id);
  charge.set_amount_cents(amount_cents);
  charge.set_status(v1::CHARGE_STATUS_CHARGED);
  return charge;
}

absl::StatusOr<v1::Charge> PaymentStore::RefundIn(pqxx::work& tx,
                                                  const std::string& order_id) {
  db::Exec(tx,
           "INSERT INTO charges (order_id, amount_cents, status) "
           "VALUES ($1, 0, 'refunded') ON CONFLICT (order_id) DO NOTHING",
           order_id);
  pqxx::result r =
      db::Exec(tx,
               "SELECT customer_id, amount_cents, status FROM charges "
               "WHERE order_id = $1 FOR UPDATE",
               order_id);
  if (r[0][2].as<std::string>() == "charged") {
    db::Exec(tx,
             "UPDATE accounts SET balance_cents = balance_cents + $2 "
             "WHERE customer_id = $1",
             r[0][0].as<std::string>(), r[0][1].as<int64_t>());
    db::Exec(tx,
             "UPDATE charges SET status = 'refunded', updated_at = now() "
             "WHERE order_id = $1",
             order_id);
  }
  return LoadCharge(tx, order_id);
}

absl::StatusOr<v1::Balance> PaymentStore::GetBalance(
    const std::string& customer_id) {
  return pool_.ReadOr<v1::Balance>(
      "get_balance", [&](pqxx::work& tx) -> absl::StatusOr<v1::Balance> {
        pqxx::result r = db::Exec(
            tx, "SELECT balance_cents FROM accounts WHERE customer_id = $1",
            customer_id);
        if (r.empty()) {
          return absl::NotFoundError(
              absl::StrCat("unknown customer '", customer_id, "'"));
        }
        v1::Balance balance;
        balance.set_customer_id(customer_id);
        balance.set_balance_cents(r[0][0].as<int64_t>());
        return balance;
      });
}

}  // namespace sagaworks::payment
