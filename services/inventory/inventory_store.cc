#include "services/inventory/inventory_store.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/exec.h"
#include "common/uuid.h"
#include "common/validation.h"

namespace sagaworks::inventory {
namespace {

// Loads a reservation row and its items; the row must exist.
v1::Reservation LoadReservation(pqxx::work& tx, const std::string& order_id) {
  pqxx::result r =
      db::Exec(tx,
               "SELECT reservation_id, status, total_cents FROM reservations "
               "WHERE order_id = $1",
               order_id);
  v1::Reservation out;
  out.set_reservation_id(r[0][0].as<std::string>());
  out.set_order_id(order_id);
  out.set_status(r[0][1].as<std::string>() == "reserved"
                     ? v1::RESERVATION_STATUS_RESERVED
                     : v1::RESERVATION_STATUS_RELEASED);
  out.set_total_cents(r[0][2].as<int64_t>());
  pqxx::result items =
      db::Exec(tx,
               "SELECT sku, quantity, unit_price_cents FROM reservation_items "
               "WHERE reservation_id = $1 ORDER BY sku",
               out.reservation_id());
  for (const auto& row : items) {
    v1::ReservedItem* item = out.add_items();
    item->set_sku(row[0].as<std::string>());
    item->set_quantity(row[1].as<int>());
    item->set_unit_price_cents(row[2].as<int64_t>());
  }
  return out;
}

bool SameItems(const v1::Reservation& reservation,
               const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
  std::map<std::string, int> want;
  for (const auto& item : items) want[item.sku()] = item.quantity();
  std::map<std::string, int> have;
  for (const auto& item : reservation.items()) {
    have[item.sku()] = item.quantity();
  }
  return want == have;
}

}  // namespace

absl::StatusOr<v1::Reservation> InventoryStore::ReserveIn(
    pqxx::work& tx, const std::string& order_id,
    const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
  // Claims the order first: a concurrent duplicate waits here on the
  // unique index, then finds the committed row.
  pqxx::result claimed =
      db::Exec(tx,
               "INSERT INTO reservations (order_id, status) "
               "VALUES ($1, 'reserved') ON CONFLICT (order_id) DO NOTHING "
               "RETURNING reservation_id",
               order_id);
  if (claimed.empty()) {
    v1::Reservation existing = LoadReservation(tx, order_id);
    if (existing.status() == v1::RESERVATION_STATUS_RELEASED) {
      return absl::FailedPreconditionError(
          absl::StrCat("stock for order ", order_id,
                       " was already released; it cannot be reserved again"));
    }
    if (!SameItems(existing, items)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "order ", order_id, " already holds a reservation for other items"));
    }
    return existing;
  }
  // Fixed lock order (by SKU) so concurrent reservations of overlapping
  // items cannot deadlock.
  std::vector<const v1::OrderItem*> sorted;
  for (const auto& item : items) sorted.push_back(&item);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->sku() < b->sku(); });
  v1::Reservation reservation;
  reservation.set_reservation_id(claimed[0][0].as<std::string>());
  reservation.set_order_id(order_id);
  reservation.set_status(v1::RESERVATION_STATUS_RESERVED);
  std::vector<std::string> skus, quantities, prices;
  int64_t total = 0;
  for (const v1::OrderItem* item : sorted) {
    pqxx::result updated =
        db::Exec(tx,
                 "UPDATE stock SET available = available - $2, "
                 "reserved = reserved + $2 "
                 "WHERE sku = $1 AND available >= $2 RETURNING price_cents",
                 item->sku(), item->quantity());
    if (updated.empty()) {
      pqxx::result found = db::Exec(
          tx, "SELECT available FROM stock WHERE sku = $1", item->sku());
      if (found.empty()) {
        return absl::NotFoundError(
            absl::StrCat("unknown sku '", item->sku(), "'"));
      }
      return absl::FailedPreconditionError(
          absl::StrCat("out of stock: sku '", item->sku(), "' has ",
                       found[0][0].as<int64_t>(), " available, ",
                       item->quantity(), " requested"));
    }
    const int64_t price = updated[0][0].as<int64_t>();
    // The price as it is now, for the next plans (see PlanReservation).
    Remember(item->sku(), price);
    if (absl::Status s = AddLineTotal(price, item->quantity(), &total);
        !s.ok()) {
      return s;
    }
    v1::ReservedItem* reserved = reservation.add_items();
    reserved->set_sku(item->sku());
    reserved->set_quantity(item->quantity());
    reserved->set_unit_price_cents(price);
    skus.push_back(item->sku());
    quantities.push_back(absl::StrCat(item->quantity()));
    prices.push_back(absl::StrCat(price));
  }
  reservation.set_total_cents(total);
  // The items at the prices just read, and the total, in one statement.
  db::Exec(tx,
           "WITH items AS ("
           "  INSERT INTO reservation_items "
           "  (reservation_id, sku, quantity, unit_price_cents) "
           "  SELECT $1, i.sku, i.quantity, i.price "
           "  FROM unnest($3::text[], $4::int[], $5::bigint[]) "
           "    AS i(sku, quantity, price)"
           ") UPDATE reservations SET total_cents = $2 "
           "WHERE reservation_id = $1",
           reservation.reservation_id(), total, db::ArrayLiteral(skus),
           db::ArrayLiteral(quantities), db::ArrayLiteral(prices));
  return reservation;
}

absl::StatusOr<v1::Reservation> InventoryStore::ReleaseIn(
    pqxx::work& tx, const std::string& order_id) {
  // With no reservation yet, the insert leaves a tombstone.
  db::Exec(tx,
           "INSERT INTO reservations (order_id, status) "
           "VALUES ($1, 'released') ON CONFLICT (order_id) DO NOTHING",
           order_id);
  pqxx::result r = db::Exec(tx,
                            "SELECT reservation_id, status FROM reservations "
                            "WHERE order_id = $1 FOR UPDATE",
                            order_id);
  if (r[0][1].as<std::string>() == "reserved") {
    const std::string reservation_id = r[0][0].as<std::string>();
    db::Exec(tx,
             "UPDATE stock s SET available = s.available + i.quantity, "
             "reserved = s.reserved - i.quantity "
             "FROM (SELECT sku, quantity FROM reservation_items "
             "      WHERE reservation_id = $1 ORDER BY sku) i "
             "WHERE s.sku = i.sku",
             reservation_id);
    db::Exec(tx,
             "UPDATE reservations SET status = 'released', updated_at = now() "
             "WHERE reservation_id = $1",
             reservation_id);
  }
  return LoadReservation(tx, order_id);
}

absl::StatusOr<v1::Stock> InventoryStore::GetStock(const std::string& sku) {
  return pool_.ReadOr<v1::Stock>(
      "get_stock", [&](pqxx::work& tx) -> absl::StatusOr<v1::Stock> {
        pqxx::result r =
            db::Exec(tx,
                     "SELECT available, reserved, price_cents FROM stock "
                     "WHERE sku = $1",
                     sku);
        if (r.empty()) {
          return absl::NotFoundError(absl::StrCat("unknown sku '", sku, "'"));
        }
        v1::Stock stock;
        stock.set_sku(sku);
        stock.set_available(r[0][0].as<int64_t>());
        stock.set_reserved(r[0][1].as<int64_t>());
        stock.set_price_cents(r[0][2].as<int64_t>());
        return stock;
      });
}

}  // namespace sagaworks::inventory
