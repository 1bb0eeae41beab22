// InventoryStore against a real PostgreSQL.
#include "services/inventory/inventory_store.h"

#include <thread>
#include <vector>

#include "common/platform/services.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "tests/testing/one_statement.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::inventory {
namespace {

using testing::TestPostgres;

constexpr char kOrder1[] = "11111111-1111-1111-1111-111111111111";
constexpr char kOrder2[] = "22222222-2222-2222-2222-222222222222";

google::protobuf::RepeatedPtrField<v1::OrderItem> Items(
    std::vector<std::pair<std::string, int>> lines) {
  google::protobuf::RepeatedPtrField<v1::OrderItem> out;
  for (auto& [sku, qty] : lines) {
    v1::OrderItem* item = out.Add();
    item->set_sku(sku);
    item->set_quantity(qty);
  }
  return out;
}

class InventoryStoreTest : public ::testing::TestWithParam<testing::WritePath> {
 protected:
  void SetUp() override {
    pool_ = TestPostgres::Get().NewPool(migrations::ForService(
        platform::Info(platform::Service::kInventory).name));
    SW_ASSERT_OK(db::ApplySeed(*pool_, testing::DemoData("inventory.sql")));
    store_ = std::make_unique<InventoryStore>(*pool_);
  }
  v1::Stock Stock(const std::string& sku) { return *store_->GetStock(sku); }
  v1::Reservation Plan(
      const std::string& order,
      const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
    absl::StatusOr<std::optional<v1::Reservation>> plan =
        store_->PlanReservation(order, items);
    EXPECT_TRUE(plan.ok() && plan->has_value());
    return plan.ok() && plan->has_value() ? **plan : v1::Reservation();
  }
  bool ReserveOnce(const v1::Reservation& plan, const std::string& key) {
    return testing::StoredOnce(*pool_, [&](pqxx::transaction_base& tx) {
      return store_->ReserveOnce(tx, testing::TestKey(key), plan);
    });
  }

  // A reservation as the service makes it, by the path under test (with no
  // plan, the transaction alone, as the service does).
  absl::StatusOr<v1::Reservation> Reserve(
      const std::string& order,
      const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
    absl::StatusOr<std::optional<v1::Reservation>> plan =
        store_->PlanReservation(order, items);
    const bool planned = plan.ok() && plan->has_value();
    return testing::HandlerWrite<v1::Reservation>(
        *pool_, planned ? GetParam() : testing::WritePath::kTransaction,
        planned ? **plan : v1::Reservation(),
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_->ReserveOnce(tx, k, **plan);
        },
        [&](pqxx::work& tx) { return store_->ReserveIn(tx, order, items); });
  }
  absl::StatusOr<v1::Reservation> Release(const std::string& order) {
    return pool_->TransactOr<v1::Reservation>("release", [&](pqxx::work& tx) {
      return store_->ReleaseIn(tx, order);
    });
  }
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<InventoryStore> store_;
};

TEST_P(InventoryStoreTest, ReservePricesItemsAndMovesStockToReserved) {
  absl::StatusOr<v1::Reservation> r =
      Reserve(kOrder1, Items({{"widget", 2}, {"gadget", 1}}));
  SW_ASSERT_OK(r.status());
  EXPECT_EQ(r->total_cents(), 2 * 1999 + 4999);
  EXPECT_EQ(r->status(), v1::RESERVATION_STATUS_RESERVED);
  EXPECT_EQ(Stock("widget").available(), 1000000 - 2);
  EXPECT_EQ(Stock("widget").reserved(), 2);
  EXPECT_EQ(Stock("gadget").available(), 9);
}

TEST_P(InventoryStoreTest, ShortStockReservesNothingAtAll) {
  absl::StatusOr<v1::Reservation> r =
      Reserve(kOrder1, Items({{"widget", 1}, {"gizmo", 1}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("gizmo"), absl::string_view::npos);
  // The widget line must not stay reserved: all or nothing.
  EXPECT_EQ(Stock("widget").available(), 1000000);
  EXPECT_EQ(Stock("widget").reserved(), 0);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM reservations"), 0);
}

// A price set absurdly high cannot wrap the order's total into a small or
// negative charge (signed overflow): the reservation is refused whole.
TEST_P(InventoryStoreTest, ATotalPastInt64IsRefusedNotWrapped) {
  SW_ASSERT_OK(pool_->Transact("price", [](pqxx::work& tx) {
    tx.exec(
        "UPDATE stock SET price_cents = 4611686018427387904 "
        "WHERE sku = 'widget'");
    return absl::OkStatus();
  }));
  absl::StatusOr<v1::Reservation> r =
      Reserve(kOrder1, Items({{"gadget", 1}, {"widget", 3}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("would exceed"), absl::string_view::npos)
      << r.status();
  EXPECT_EQ(Stock("widget").reserved(), 0);
  EXPECT_EQ(Stock("gadget").reserved(), 0);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM reservations"), 0);
}

TEST_P(InventoryStoreTest, UnknownSkuIsNotFound) {
  absl::StatusOr<v1::Reservation> r =
      Reserve(kOrder1, Items({{"doohickey", 1}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetStock("doohickey").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(InventoryStoreTest, ReservingAgainReturnsTheSameReservationOnce) {
  auto first = Reserve(kOrder1, Items({{"gadget", 3}}));
  auto second = Reserve(kOrder1, Items({{"gadget", 3}}));
  SW_ASSERT_OK(first.status());
  SW_ASSERT_OK(second.status());
  EXPECT_EQ(first->reservation_id(), second->reservation_id());
  EXPECT_EQ(Stock("gadget").available(), 7);
  auto different = Reserve(kOrder1, Items({{"gadget", 4}}));
  EXPECT_EQ(different.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(InventoryStoreTest, ReleaseReturnsStockOnceAndBlocksALateReserve) {
  SW_ASSERT_OK(Reserve(kOrder1, Items({{"gadget", 3}})).status());
  SW_ASSERT_OK(Release(kOrder1).status());
  SW_ASSERT_OK(Release(kOrder1).status());  // again: no second effect
  EXPECT_EQ(Stock("gadget").available(), 10);
  EXPECT_EQ(Stock("gadget").reserved(), 0);
  EXPECT_EQ(Reserve(kOrder1, Items({{"gadget", 3}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(InventoryStoreTest, ReleaseBeforeReserveLeavesATombstone) {
  auto released = Release(kOrder2);
  SW_ASSERT_OK(released.status());
  EXPECT_EQ(released->status(), v1::RESERVATION_STATUS_RELEASED);
  EXPECT_EQ(Reserve(kOrder2, Items({{"gadget", 1}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stock("gadget").available(), 10);
}

TEST_P(InventoryStoreTest, ConcurrentOrdersNeverOversellTheLastUnits) {
  // 20 orders race for 10 gadgets: exactly 10 succeed.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, short_stock{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      char id[37];
      std::snprintf(id, sizeof id, "00000000-0000-0000-0000-%012d", i);
      auto r = Reserve(id, Items({{"gadget", 1}}));
      if (r.ok()) ++ok;
      if (absl::IsFailedPrecondition(r.status())) ++short_stock;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(short_stock.load(), 10);
  EXPECT_EQ(Stock("gadget").available(), 0);
  EXPECT_EQ(Stock("gadget").reserved(), 10);
}

TEST_P(InventoryStoreTest, ReserveOnceStoresItsPlanWhole) {
  const auto items = Items({{"widget", 2}, {"gadget", 1}});
  const v1::Reservation plan = Plan(kOrder1, items);
  EXPECT_EQ(plan.total_cents(), 2 * 1999 + 4999);
  ASSERT_TRUE(ReserveOnce(plan, "k1"));
  EXPECT_EQ(Stock("widget").available(), 1000000 - 2);
  EXPECT_EQ(Stock("widget").reserved(), 2);
  EXPECT_EQ(Stock("gadget").available(), 9);
  // The full path finds the same reservation, byte for byte.
  auto again = Reserve(kOrder1, items);
  SW_ASSERT_OK(again.status());
  EXPECT_EQ(again->SerializeAsString(), plan.SerializeAsString());
  EXPECT_EQ(
      testing::QueryInt(
          *pool_,
          "SELECT count(*) FROM idempotency_keys WHERE scope = 'test-caller'"),
      1);
}

TEST_P(InventoryStoreTest, ReserveOnceWritesNothingWhenThePlanNoLongerHolds) {
  // Short stock: 11 gadgets of 10, with a widget line that must not stay.
  EXPECT_FALSE(
      ReserveOnce(Plan(kOrder1, Items({{"widget", 1}, {"gadget", 11}})), "a"));
  // A price changed since the plan was read.
  const v1::Reservation stale = Plan(kOrder1, Items({{"widget", 1}}));
  SW_ASSERT_OK(pool_->Autocommit("reprice", [](pqxx::nontransaction& tx) {
    tx.exec("UPDATE stock SET price_cents = 2099 WHERE sku = 'widget'");
    return absl::OkStatus();
  }));
  EXPECT_FALSE(ReserveOnce(stale, "b"));
  // The order reserved already, and one released (a tombstone).
  SW_ASSERT_OK(Reserve(kOrder1, Items({{"widget", 1}})).status());
  SW_ASSERT_OK(Release(kOrder2).status());
  EXPECT_FALSE(ReserveOnce(Plan(kOrder1, Items({{"widget", 1}})), "c"));
  EXPECT_FALSE(ReserveOnce(Plan(kOrder2, Items({{"widget", 1}})), "d"));
  EXPECT_EQ(Stock("widget").available(), 1000000 - 1);
  EXPECT_EQ(Stock("widget").reserved(), 1);
  EXPECT_EQ(Stock("gadget").available(), 10);
  EXPECT_EQ(
      testing::QueryInt(
          *pool_,
          "SELECT count(*) FROM idempotency_keys WHERE scope = 'test-caller'"),
      0);
  // An unknown SKU has no plan at all.
  auto none = store_->PlanReservation(kOrder1, Items({{"doohickey", 1}}));
  SW_ASSERT_OK(none.status());
  EXPECT_FALSE(none->has_value());
}

TEST_P(InventoryStoreTest, PlansUseTheLastPriceSeenAndTheFullPathLearnsANew) {
  EXPECT_EQ(Plan(kOrder1, Items({{"widget", 1}})).total_cents(), 1999);
  SW_ASSERT_OK(pool_->Autocommit("reprice", [](pqxx::nontransaction& tx) {
    tx.exec("UPDATE stock SET price_cents = 2099 WHERE sku = 'widget'");
    return absl::OkStatus();
  }));
  // Planned from memory, without a read: the old price, which the one
  // statement then refuses to write.
  const v1::Reservation stale = Plan(kOrder1, Items({{"widget", 1}}));
  EXPECT_EQ(stale.total_cents(), 1999);
  EXPECT_FALSE(ReserveOnce(stale, "k1"));
  // The full path reserves at the price as it is, and plans learn it.
  auto reserved = Reserve(kOrder1, Items({{"widget", 1}}));
  SW_ASSERT_OK(reserved.status());
  EXPECT_EQ(reserved->total_cents(), 2099);
  const v1::Reservation fresh = Plan(kOrder2, Items({{"widget", 1}}));
  EXPECT_EQ(fresh.total_cents(), 2099);
  EXPECT_TRUE(ReserveOnce(fresh, "k2"));
  EXPECT_EQ(Stock("widget").reserved(), 2);
}

TEST_P(InventoryStoreTest, RacingOneStatementReservationsNeverOversell) {
  // 20 orders race for 10 gadgets, each with a widget too, locked in SKU
  // order: exactly 10 are stored, the rest write nothing.
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      char id[37];
      std::snprintf(id, sizeof id, "00000000-0000-0000-0000-%012d", i);
      const v1::Reservation plan =
          Plan(id, Items({{"widget", 1}, {"gadget", 1}}));
      if (ReserveOnce(plan, id)) ++stored;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 10);
  EXPECT_EQ(Stock("gadget").available(), 0);
  EXPECT_EQ(Stock("gadget").reserved(), 10);
  EXPECT_EQ(Stock("widget").reserved(), 10);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM reservations"), 10);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, InventoryStoreTest,
    ::testing::Values(testing::WritePath::kTransaction,
                      testing::WritePath::kOneStatementFirst),
    testing::WritePathName);

}  // namespace
}  // namespace sagaworks::inventory
