// InventoryStore's fast path: the price cache and the plan it makes, and
// the one-statement write (idempotency::OneStatement) of ReserveIn, which
// handlers try before its transaction. inventory_store_test runs every
// reservation test through both.
#include "common/idempotency/idempotency.h"
#include "common/uuid.h"
#include "common/validation.h"
#include "services/inventory/inventory_store.h"

namespace sagaworks::inventory {
namespace {

// Prices remembered at most; more are forgotten all at once.
constexpr size_t kMaxRememberedPrices = 100000;

}  // namespace

void InventoryStore::Remember(const std::string& sku, int64_t price) {
  absl::MutexLock lock(&prices_mu_);
  if (prices_.size() >= kMaxRememberedPrices && !prices_.contains(sku)) {
    prices_.clear();
  }
  prices_[sku] = price;
}

absl::StatusOr<std::optional<v1::Reservation>> InventoryStore::PlanReservation(
    const std::string& order_id,
    const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
  std::map<std::string, int> quantities;  // by SKU, as ReserveIn lists them
  for (const v1::OrderItem& item : items) {
    quantities[item.sku()] = item.quantity();
  }
  std::map<std::string, int64_t> prices;
  {
    absl::MutexLock lock(&prices_mu_);
    for (const auto& [sku, quantity] : quantities) {
      auto known = prices_.find(sku);
      if (known == prices_.end()) break;
      prices[sku] = known->second;
    }
  }
  if (prices.size() < quantities.size()) {
    std::vector<std::string> skus;
    for (const auto& [sku, quantity] : quantities) skus.push_back(sku);
    absl::Status read = pool_.Autocommit(
        "plan_reservation", [&](pqxx::nontransaction& tx) -> absl::Status {
          pqxx::result r = db::Exec(
              tx,
              "SELECT sku, price_cents FROM stock WHERE sku = ANY($1::text[])",
              db::ArrayLiteral(skus));
          for (const auto& row : r) {
            prices[row[0].as<std::string>()] = row[1].as<int64_t>();
          }
          return absl::OkStatus();
        });
    if (!read.ok()) return read;
    for (const auto& [sku, price] : prices) Remember(sku, price);
  }
  v1::Reservation plan;
  plan.set_reservation_id(NewUuid());
  plan.set_order_id(order_id);
  plan.set_status(v1::RESERVATION_STATUS_RESERVED);
  int64_t total = 0;
  for (const auto& [sku, quantity] : quantities) {
    auto price = prices.find(sku);
    if (price == prices.end()) return std::nullopt;  // unknown SKU
    v1::ReservedItem* item = plan.add_items();
    item->set_sku(sku);
    item->set_quantity(quantity);
    item->set_unit_price_cents(price->second);
    // An overflowing total: the transaction's path reports it.
    if (!AddLineTotal(price->second, quantity, &total).ok()) {
      return std::nullopt;
    }
  }
  plan.set_total_cents(total);
  return plan;
}

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
