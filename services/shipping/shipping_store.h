// ShippingStore: the shipping database (one shipment per order). The only
// shipping code that speaks SQL.
#ifndef SAGAWORKS_SERVICES_SHIPPING_SHIPPING_STORE_H_
#define SAGAWORKS_SERVICES_SHIPPING_SHIPPING_STORE_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "sagaworks/v1/shipping.pb.h"

namespace sagaworks::shipping {

// TrackingNumber: one a person can read out ("SW" and 12 hex digits),
// derived from the shipment's id, so it is unique without another sequence.
std::string TrackingNumber(absl::string_view shipment_id);

// PlannedShipment: the shipment a request makes, with an id drawn here.
v1::Shipment PlannedShipment(const v1::CreateShipmentRequest& request);

class ShippingStore {
 public:
  explicit ShippingStore(db::Pool& pool) : pool_(pool) {}

  // CreateIn records the order's shipment in the caller's transaction.
  // Creating again with the same address and items returns the shipment that
  // exists; otherwise, or after a cancellation, FAILED_PRECONDITION.
  absl::StatusOr<v1::Shipment> CreateIn(
      pqxx::work& tx, const v1::CreateShipmentRequest& request);

  // CreateOnce is CreateIn's one-statement form (shipping_store_once.cc):
  // `planned` and the key `k`, or nothing when the order has a shipment
  // already (false; the handler then runs CreateIn).
  bool CreateOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                  const v1::Shipment& planned);

  // CancelIn cancels the order's shipment. With no shipment it records a
  // cancelled tombstone, so a late create is refused.
  absl::StatusOr<v1::Shipment> CancelIn(pqxx::work& tx,
                                        const std::string& order_id);

  // Get reads the order's shipment; NOT_FOUND when there is none.
  absl::StatusOr<v1::Shipment> Get(const std::string& order_id);

 private:
  // ItemArrays: the shipment's lines as the two array parameters both
  // write paths unnest.
  static std::pair<std::string, std::string> ItemArrays(
      const v1::Shipment& shipment);

  db::Pool& pool_;
};

}  // namespace sagaworks::shipping

#endif  // SAGAWORKS_SERVICES_SHIPPING_SHIPPING_STORE_H_
