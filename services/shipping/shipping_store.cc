#include "services/shipping/shipping_store.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/db/exec.h"
#include "common/uuid.h"
#include "google/protobuf/util/message_differencer.h"

namespace sagaworks::shipping {
namespace {

// Vanished: the row a conflict or an upsert promised is not there. It
// cannot happen while rows are never deleted; if it does, the caller retries
// (ABORTED) rather than the process reading an empty optional.
absl::Status Vanished(const std::string& order_id) {
  return absl::AbortedError(
      absl::StrCat("the shipment row of order ", order_id,
                   " was not there after writing it; retry"));
}

// Returns nullopt when the order has no shipment row.
std::optional<v1::Shipment> LoadShipment(pqxx::work& tx,
                                         const std::string& order_id) {
  pqxx::result r = db::Exec(
      tx,
      "SELECT shipment_id, status, name, line1, city, postal_code, country, "
      "tracking_number, customer_id FROM shipments WHERE order_id = $1",
      order_id);
  if (r.empty()) return std::nullopt;
  v1::Shipment out;
  out.set_shipment_id(r[0][0].as<std::string>());
  out.set_order_id(order_id);
  out.set_status(r[0][1].as<std::string>() == "created"
                     ? v1::SHIPMENT_STATUS_CREATED
                     : v1::SHIPMENT_STATUS_CANCELLED);
  v1::Address* a = out.mutable_address();
  a->set_name(r[0][2].as<std::string>());
  a->set_line1(r[0][3].as<std::string>());
  a->set_city(r[0][4].as<std::string>());
  a->set_postal_code(r[0][5].as<std::string>());
  a->set_country(r[0][6].as<std::string>());
  out.set_tracking_number(r[0][7].as<std::string>());
  out.set_customer_id(r[0][8].as<std::string>());
  pqxx::result items = db::Exec(
      tx,
      "SELECT sku, quantity FROM shipment_items WHERE shipment_id = $1 "
      "ORDER BY line",
      out.shipment_id());
  for (const auto& row : items) {
    v1::OrderItem* item = out.add_items();
    item->set_sku(row[0].as<std::string>());
    item->set_quantity(row[1].as<int>());
  }
  return out;
}

bool SameShipment(const v1::Shipment& existing,
                  const v1::CreateShipmentRequest& request) {
  using google::protobuf::util::MessageDifferencer;
  if (!MessageDifferencer::Equals(existing.address(), request.address())) {
    return false;
  }
  if (existing.items_size() != request.items_size()) return false;
  for (int i = 0; i < request.items_size(); ++i) {
    if (!MessageDifferencer::Equals(existing.items(i), request.items(i))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string TrackingNumber(absl::string_view shipment_id) {
  std::string out = "SW";
  for (char c : shipment_id.substr(0, 13)) {
    if (c != '-') out += absl::ascii_toupper(c);
  }
  return out;
}

v1::Shipment PlannedShipment(const v1::CreateShipmentRequest& request) {
  v1::Shipment shipment;
  shipment.set_shipment_id(NewUuid());
  shipment.set_order_id(request.order_id());
  shipment.set_customer_id(request.customer_id());
  shipment.set_status(v1::SHIPMENT_STATUS_CREATED);
  *shipment.mutable_address() = request.address();
  *shipment.mutable_items() = request.items();
  shipment.set_tracking_number(TrackingNumber(shipment.shipment_id()));
  return shipment;
}

std::pair<std::string, std::string> ShippingStore::ItemArrays(
    const v1::Shipment& shipment) {
  std::vector<std::string> skus, quantities;
  for (const v1::OrderItem& item : shipment.items()) {
    skus.push_back(item.sku());
    quantities.push_back(absl::StrCat(item.quantity()));
  }
  return {db::ArrayLiteral(skus), db::ArrayLiteral(quantities)};
}

absl::StatusOr<v1::Shipment> ShippingStore::CreateIn(
    pqxx::work& tx, const v1::CreateShipmentRequest& request) {
  const v1::Shipment planned = PlannedShipment(request);
  const v1::Address& a = planned.address();
  auto [skus, quantities] = ItemArrays(planned);
  // The shipment and its items in one statement.
  pqxx::result claimed = db::Exec(
      tx,
      "WITH s AS ("
      "  INSERT INTO shipments (shipment_id, order_id, status, name, line1, "
      "  city, postal_code, country, tracking_number, customer_id) "
      "  VALUES ($1::uuid, $2::uuid, 'created', $3, $4, $5, $6, $7, $8, $11) "
      "  ON CONFLICT (order_id) DO NOTHING "
      "  RETURNING shipment_id"
      "), items AS ("
      "  INSERT INTO shipment_items (shipment_id, line, sku, quantity) "
      "  SELECT s.shipment_id, i.line - 1, i.sku, i.quantity FROM s, "
      "  unnest($9::text[], $10::int[]) WITH ORDINALITY AS i(sku, quantity, "
      "line)"
      ") SELECT shipment_id FROM s",
      planned.shipment_id(), planned.order_id(), a.name(), a.line1(), a.city(),
      a.postal_code(), a.country(), planned.tracking_number(), skus, quantities,
      planned.customer_id());
  if (claimed.empty()) {
    std::optional<v1::Shipment> found = LoadShipment(tx, request.order_id());
    if (!found.has_value()) return Vanished(request.order_id());
    const v1::Shipment& existing = *found;
    if (existing.status() == v1::SHIPMENT_STATUS_CANCELLED) {
      return absl::FailedPreconditionError(
          absl::StrCat("shipment for order ", request.order_id(),
                       " was already cancelled; it cannot be created again"));
    }
    if (!SameShipment(existing, request)) {
      return absl::FailedPreconditionError(
          absl::StrCat("order ", request.order_id(),
                       " already has a shipment with other details"));
    }
    return existing;
  }
  return planned;
}

absl::StatusOr<v1::Shipment> ShippingStore::CancelIn(
    pqxx::work& tx, const std::string& order_id) {
  db::Exec(tx,
           "INSERT INTO shipments (order_id, status) VALUES ($1, 'cancelled') "
           "ON CONFLICT (order_id) DO UPDATE SET status = 'cancelled', "
           "updated_at = now() WHERE shipments.status <> 'cancelled'",
           order_id);
  std::optional<v1::Shipment> cancelled = LoadShipment(tx, order_id);
  if (!cancelled.has_value()) return Vanished(order_id);
  return *cancelled;
}

absl::StatusOr<v1::Shipment> ShippingStore::Get(const std::string& order_id) {
  return pool_.ReadOr<v1::Shipment>(
      "get_shipment", [&](pqxx::work& tx) -> absl::StatusOr<v1::Shipment> {
        std::optional<v1::Shipment> shipment = LoadShipment(tx, order_id);
        if (!shipment.has_value()) {
          return absl::NotFoundError(
              absl::StrCat("no shipment for order ", order_id));
        }
        return *shipment;
      });
}

}  // namespace sagaworks::shipping
