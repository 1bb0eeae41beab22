// InventoryStore: the inventory database (stock levels and per-order
// reservations). The only inventory code that speaks SQL.
#ifndef SAGAWORKS_SERVICES_INVENTORY_INVENTORY_STORE_H_
#define SAGAWORKS_SERVICES_INVENTORY_INVENTORY_STORE_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "sagaworks/v1/inventory.pb.h"

namespace sagaworks::inventory {

class InventoryStore {
 public:
  explicit InventoryStore(db::Pool& pool) : pool_(pool) {}

  // ReserveIn holds every item for the order, priced from the catalog, or
  // nothing, in the caller's transaction: NOT_FOUND for an unknown SKU,
  // FAILED_PRECONDITION when stock is short. Reserving again with the same
  // items returns the reservation that exists; with other items, or after a
  // release, FAILED_PRECONDITION.
  absl::StatusOr<v1::Reservation> ReserveIn(
      pqxx::work& tx, const std::string& order_id,
      const google::protobuf::RepeatedPtrField<v1::OrderItem>& items);

  // PlanReservation prices the items for ReserveOnce: the reservation that
  // reserving them would make, with an id drawn here; nothing when a SKU is
  // unknown (the full path answers that). Prices come from what this store
  // last saw of them, read only when one is missing: a price changed since
  // makes ReserveOnce write nothing, and the full path (ReserveIn) then
  // brings the new one.
  absl::StatusOr<std::optional<v1::Reservation>> PlanReservation(
      const std::string& order_id,
      const google::protobuf::RepeatedPtrField<v1::OrderItem>& items);

  // ReserveOnce is ReserveIn's one-statement form (inventory_store_once.cc):
  // `plan` and the key `k`, or nothing when the order has a reservation
  // already, stock is short or a price changed (false; the handler then
  // runs ReserveIn).
  bool ReserveOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                   const v1::Reservation& plan);

  // ReleaseIn returns the order's reserved stock. With no reservation it
  // records a released tombstone, so a late reserve is refused.
  absl::StatusOr<v1::Reservation> ReleaseIn(pqxx::work& tx,
                                            const std::string& order_id);

  // GetStock reads one SKU; NOT_FOUND when unknown.
  absl::StatusOr<v1::Stock> GetStock(const std::string& sku);

 private:
  // Remember keeps a SKU's price for later plans; bounded, by forgetting
  // everything when full (there are few SKUs, and forgetting costs a read).
  void Remember(const std::string& sku, int64_t price);

  db::Pool& pool_;
  absl::Mutex prices_mu_;
  absl::flat_hash_map<std::string, int64_t> prices_ ABSL_GUARDED_BY(prices_mu_);
};

}  // namespace sagaworks::inventory

#endif  // SAGAWORKS_SERVICES_INVENTORY_INVENTORY_STORE_H_
