// ShippingStore and the shipping rules, against a real PostgreSQL.
#include "services/shipping/shipping_store.h"

#include "absl/strings/ascii.h"
#include "common/platform/services.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "services/shipping/shipping_service.h"
#include "tests/testing/one_statement.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::shipping {
namespace {

constexpr char kOrder1[] = "11111111-1111-1111-1111-111111111111";

v1::CreateShipmentRequest Request(const std::string& country) {
  v1::CreateShipmentRequest r;
  r.set_order_id(kOrder1);
  v1::Address* a = r.mutable_address();
  a->set_name("Alice");
  a->set_line1("1 Main St");
  a->set_city("Berlin");
  a->set_postal_code("10115");
  a->set_country(country);
  v1::OrderItem* item = r.add_items();
  item->set_sku("widget");
  item->set_quantity(2);
  return r;
}

class ShippingStoreTest : public ::testing::TestWithParam<testing::WritePath> {
 protected:
  void SetUp() override {
    pool_ = testing::TestPostgres::Get().NewPool(migrations::ForService(
        platform::Info(platform::Service::kShipping).name));
    store_ = std::make_unique<ShippingStore>(*pool_);
  }
  // A shipment as the service makes it, by the path under test.
  absl::StatusOr<v1::Shipment> Create(const v1::CreateShipmentRequest& r) {
    const v1::Shipment planned = PlannedShipment(r);
    return testing::HandlerWrite<v1::Shipment>(
        *pool_, GetParam(), planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_->CreateOnce(tx, k, planned);
        },
        [&](pqxx::work& tx) { return store_->CreateIn(tx, r); });
  }
  absl::StatusOr<v1::Shipment> Cancel(const std::string& order_id) {
    return pool_->TransactOr<v1::Shipment>("cancel", [&](pqxx::work& tx) {
      return store_->CancelIn(tx, order_id);
    });
  }
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<ShippingStore> store_;
};

TEST_P(ShippingStoreTest, CreateIsIdempotentPerOrderAndHasATrackingNumber) {
  auto first = Create(Request("DE"));
  auto again = Create(Request("DE"));
  SW_ASSERT_OK(first.status());
  SW_ASSERT_OK(again.status());
  EXPECT_EQ(first->shipment_id(), again->shipment_id());
  EXPECT_EQ(first->tracking_number().substr(0, 2), "SW");
  EXPECT_EQ(first->items_size(), 1);
  EXPECT_EQ(Create(Request("FR")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(ShippingStoreTest, CancelThenLateCreateIsRefused) {
  SW_ASSERT_OK(Create(Request("DE")).status());
  auto cancelled = Cancel(kOrder1);
  SW_ASSERT_OK(cancelled.status());
  EXPECT_EQ(cancelled->status(), v1::SHIPMENT_STATUS_CANCELLED);
  EXPECT_EQ(Create(Request("DE")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(ShippingStoreTest, GetUnknownOrderIsNotFound) {
  EXPECT_EQ(store_->Get(kOrder1).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ShippingStoreTest, CreateOnceStoresTheShipmentItsItemsAndKeyTogether) {
  v1::CreateShipmentRequest request = Request("DE");
  v1::OrderItem* second = request.add_items();
  second->set_sku("gadget");
  second->set_quantity(1);
  const v1::Shipment planned = PlannedShipment(request);
  EXPECT_EQ(planned.tracking_number(),
            "SW" + absl::AsciiStrToUpper(planned.shipment_id().substr(0, 8) +
                                         planned.shipment_id().substr(9, 4)));
  auto stored = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->CreateOnce(tx, testing::TestKey("k1"), planned);
  });
  SW_ASSERT_OK(stored.status());
  EXPECT_TRUE(*stored);
  EXPECT_EQ(
      testing::QueryInt(
          *pool_,
          "SELECT count(*) FROM idempotency_keys WHERE scope = 'test-caller'"),
      1);
  // What was written reads back as the answer given.
  auto read = store_->Get(kOrder1);
  SW_ASSERT_OK(read.status());
  EXPECT_EQ(read->SerializeAsString(), planned.SerializeAsString());
}

TEST_P(ShippingStoreTest, CreateOnceLeavesNothingWhenTheOrderHasAShipment) {
  SW_ASSERT_OK(Cancel(kOrder1).status());  // a tombstone
  const v1::Shipment planned = PlannedShipment(Request("DE"));
  auto stored = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->CreateOnce(tx, testing::TestKey("k1"), planned);
  });
  SW_ASSERT_OK(stored.status());
  EXPECT_FALSE(*stored);
  EXPECT_EQ(
      testing::QueryInt(
          *pool_,
          "SELECT count(*) FROM idempotency_keys WHERE scope = 'test-caller'"),
      0);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM shipment_items"),
            0);
  EXPECT_EQ(store_->Get(kOrder1)->status(), v1::SHIPMENT_STATUS_CANCELLED);
}

TEST(ShippingRulesTest, RefusesUndeliverableCountryAsBusinessFailure) {
  ShippingRules rules;
  absl::Status s = rules.Check(Request("ZZ"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("undeliverable"), absl::string_view::npos);
  SW_EXPECT_OK(rules.Check(Request("DE")));
  EXPECT_EQ(rules.Check(Request("de")).code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, ShippingStoreTest,
    ::testing::Values(testing::WritePath::kTransaction,
                      testing::WritePath::kOneStatementFirst),
    testing::WritePathName);

}  // namespace
}  // namespace sagaworks::shipping
