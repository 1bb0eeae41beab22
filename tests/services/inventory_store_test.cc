// InventoryStore against a real PostgreSQL.
#include "services/inventory/inventory_store.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "migrations/embedded.h"
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

class InventoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = TestPostgres::Get().NewPool(migrations::inventory());
    SW_ASSERT_OK(db::ApplySeed(*pool_, testing::DemoData("inventory.sql")));
    store_ = std::make_unique<InventoryStore>(*pool_);
  }
  v1::Stock Stock(const std::string& sku) { return *store_->GetStock(sku); }

  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<InventoryStore> store_;
};

TEST_F(InventoryStoreTest, ReservePricesItemsAndMovesStockToReserved) {
  absl::StatusOr<v1::Reservation> r =
      store_->Reserve(kOrder1, Items({{"widget", 2}, {"gadget", 1}}));
  SW_ASSERT_OK(r.status());
  EXPECT_EQ(r->total_cents(), 2 * 1999 + 4999);
  EXPECT_EQ(r->status(), v1::RESERVATION_STATUS_RESERVED);
  EXPECT_EQ(Stock("widget").available(), 1000000 - 2);
  EXPECT_EQ(Stock("widget").reserved(), 2);
  EXPECT_EQ(Stock("gadget").available(), 9);
}

TEST_F(InventoryStoreTest, ShortStockReservesNothingAtAll) {
  absl::StatusOr<v1::Reservation> r =
      store_->Reserve(kOrder1, Items({{"widget", 1}, {"gizmo", 1}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("gizmo"), absl::string_view::npos);
  // The widget line must not stay reserved: all or nothing.
  EXPECT_EQ(Stock("widget").available(), 1000000);
  EXPECT_EQ(Stock("widget").reserved(), 0);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM reservations"), 0);
}

TEST_F(InventoryStoreTest, UnknownSkuIsNotFound) {
  absl::StatusOr<v1::Reservation> r =
      store_->Reserve(kOrder1, Items({{"doohickey", 1}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetStock("doohickey").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(InventoryStoreTest, ReservingAgainReturnsTheSameReservationOnce) {
  auto first = store_->Reserve(kOrder1, Items({{"gadget", 3}}));
  auto second = store_->Reserve(kOrder1, Items({{"gadget", 3}}));
  SW_ASSERT_OK(first.status());
  SW_ASSERT_OK(second.status());
  EXPECT_EQ(first->reservation_id(), second->reservation_id());
  EXPECT_EQ(Stock("gadget").available(), 7);
  auto different = store_->Reserve(kOrder1, Items({{"gadget", 4}}));
  EXPECT_EQ(different.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(InventoryStoreTest, ReleaseReturnsStockOnceAndBlocksALateReserve) {
  SW_ASSERT_OK(store_->Reserve(kOrder1, Items({{"gadget", 3}})).status());
  SW_ASSERT_OK(store_->Release(kOrder1).status());
  SW_ASSERT_OK(store_->Release(kOrder1).status());  // again: no second effect
  EXPECT_EQ(Stock("gadget").available(), 10);
  EXPECT_EQ(Stock("gadget").reserved(), 0);
  EXPECT_EQ(store_->Reserve(kOrder1, Items({{"gadget", 3}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(InventoryStoreTest, ReleaseBeforeReserveLeavesATombstone) {
  auto released = store_->Release(kOrder2);
  SW_ASSERT_OK(released.status());
  EXPECT_EQ(released->status(), v1::RESERVATION_STATUS_RELEASED);
  EXPECT_EQ(store_->Reserve(kOrder2, Items({{"gadget", 1}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stock("gadget").available(), 10);
}

TEST_F(InventoryStoreTest, ConcurrentOrdersNeverOversellTheLastUnits) {
  // 20 orders race for 10 gadgets: exactly 10 succeed.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, short_stock{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      char id[37];
      std::snprintf(id, sizeof id, "00000000-0000-0000-0000-%012d", i);
      auto r = store_->Reserve(id, Items({{"gadget", 1}}));
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

}  // namespace
}  // namespace sagaworks::inventory
