// PaymentStore against a real PostgreSQL.
#include "services/payment/payment_store.h"

#include <atomic>
#include <thread>
#include <vector>

#include "common/platform/services.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "tests/testing/one_statement.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::payment {
namespace {

using testing::TestPostgres;

constexpr char kOrder1[] = "11111111-1111-1111-1111-111111111111";
constexpr char kOrder2[] = "22222222-2222-2222-2222-222222222222";

class PaymentStoreTest : public ::testing::TestWithParam<testing::WritePath> {
 protected:
  void SetUp() override {
    pool_ = TestPostgres::Get().NewPool(migrations::ForService(
        platform::Info(platform::Service::kPayment).name));
    SW_ASSERT_OK(db::ApplySeed(*pool_, testing::DemoData("payment.sql")));
    store_ = std::make_unique<PaymentStore>(*pool_);
  }
  // A charge as the service makes it, by the path under test.
  absl::StatusOr<v1::Charge> Charge(const std::string& order_id,
                                    const std::string& customer_id,
                                    int64_t amount_cents) {
    const v1::Charge planned =
        PlannedCharge(order_id, customer_id, amount_cents);
    return testing::HandlerWrite<v1::Charge>(
        *pool_, GetParam(), planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_->ChargeOnce(tx, k, planned);
        },
        [&](pqxx::work& tx) {
          return store_->ChargeIn(tx, order_id, customer_id, amount_cents);
        });
  }
  absl::StatusOr<v1::Charge> Refund(const std::string& order_id) {
    return pool_->TransactOr<v1::Charge>("refund", [&](pqxx::work& tx) {
      return store_->RefundIn(tx, order_id);
    });
  }
  int64_t Balance(const std::string& customer) {
    return store_->GetBalance(customer)->balance_cents();
  }

  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<PaymentStore> store_;
};

TEST_P(PaymentStoreTest, ChargeDebitsOnceEvenWhenRepeated) {
  auto first = Charge(kOrder1, "alice", 3998);
  auto again = Charge(kOrder1, "alice", 3998);
  SW_ASSERT_OK(first.status());
  SW_ASSERT_OK(again.status());
  EXPECT_EQ(first->charge_id(), again->charge_id());
  EXPECT_EQ(Balance("alice"), 1000000 - 3998);
}

TEST_P(PaymentStoreTest, InsufficientFundsChargesNothing) {
  auto r = Charge(kOrder1, "bob", 1999);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("insufficient funds"),
            absl::string_view::npos);
  EXPECT_EQ(Balance("bob"), 100);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM charges"), 0);
}

TEST_P(PaymentStoreTest, UnknownCustomerIsNotFound) {
  EXPECT_EQ(Charge(kOrder1, "mallory", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetBalance("mallory").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM charges"), 0);
}

TEST_P(PaymentStoreTest, RefundReturnsTheMoneyOnce) {
  SW_ASSERT_OK(Charge(kOrder1, "alice", 5000).status());
  auto refunded = Refund(kOrder1);
  SW_ASSERT_OK(refunded.status());
  EXPECT_EQ(refunded->status(), v1::CHARGE_STATUS_REFUNDED);
  SW_ASSERT_OK(Refund(kOrder1).status());
  EXPECT_EQ(Balance("alice"), 1000000);
}

TEST_P(PaymentStoreTest, RefundBeforeChargeRefusesTheLateCharge) {
  SW_ASSERT_OK(Refund(kOrder2).status());
  EXPECT_EQ(Charge(kOrder2, "alice", 100).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Balance("alice"), 1000000);
}

TEST_P(PaymentStoreTest, ConcurrentDuplicatesOfOneChargeDebitOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (Charge(kOrder1, "alice", 777).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(Balance("alice"), 1000000 - 777);
}

TEST_P(PaymentStoreTest, ChargeOnceStoresTheChargeAndItsKeyTogether) {
  const v1::Charge charge = PlannedCharge(kOrder1, "alice", 2500);
  auto stored = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->ChargeOnce(tx, testing::TestKey("k1"), charge);
  });
  SW_ASSERT_OK(stored.status());
  EXPECT_TRUE(*stored);
  EXPECT_EQ(Balance("alice"), 1000000 - 2500);
  EXPECT_EQ(testing::QueryInt(*pool_,
                              "SELECT count(*) FROM charges WHERE "
                              "charge_id = '" +
                                  charge.charge_id() + "'"),
            1);
  EXPECT_EQ(testing::QueryInt(*pool_,
                              "SELECT count(*) FROM idempotency_keys "
                              "WHERE key = 'k1' AND status_code = 0"),
            1);
  // The full path finds the same charge.
  auto again = Charge(kOrder1, "alice", 2500);
  SW_ASSERT_OK(again.status());
  EXPECT_EQ(again->charge_id(), charge.charge_id());
}

TEST_P(PaymentStoreTest, ChargeOnceLeavesNothingWhenSomethingIsInTheWay) {
  auto once = [&](const v1::Charge& charge, const std::string& key) {
    return testing::StoredOnce(*pool_, [&](pqxx::transaction_base& tx) {
      return store_->ChargeOnce(tx, testing::TestKey(key), charge);
    });
  };
  // Short funds, and an unknown customer: no charge, no key.
  EXPECT_FALSE(once(PlannedCharge(kOrder1, "bob", 1999), "short"));
  EXPECT_FALSE(once(PlannedCharge(kOrder1, "mallory", 1), "unknown"));
  // The order charged already, or refunded (a tombstone): nothing more.
  SW_ASSERT_OK(Charge(kOrder1, "alice", 100).status());
  SW_ASSERT_OK(Refund(kOrder2).status());
  EXPECT_FALSE(once(PlannedCharge(kOrder1, "alice", 100), "charged"));
  EXPECT_FALSE(once(PlannedCharge(kOrder2, "alice", 100), "refunded"));
  EXPECT_EQ(Balance("alice"), 1000000 - 100);
  EXPECT_EQ(testing::QueryInt(*pool_,
                              "SELECT count(*) FROM idempotency_keys "
                              "WHERE scope = 'test-caller'"),
            0);
  // The key stored already (a replay): this call's debit and charge are not
  // made. (Racing duplicates collide on the key's index instead; the
  // end-to-end idempotency test covers those.)
  const std::string third = "33333333-3333-3333-3333-333333333333";
  EXPECT_TRUE(once(PlannedCharge(third, "alice", 10), "taken"));
  const std::string fourth = "44444444-4444-4444-4444-444444444444";
  EXPECT_FALSE(once(PlannedCharge(fourth, "alice", 20), "taken"));
  EXPECT_EQ(Balance("alice"), 1000000 - 110);
  EXPECT_EQ(testing::QueryInt(*pool_,
                              "SELECT count(*) FROM charges WHERE "
                              "order_id = '" +
                                  fourth + "'"),
            0);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, PaymentStoreTest,
    ::testing::Values(testing::WritePath::kTransaction,
                      testing::WritePath::kOneStatementFirst),
    testing::WritePathName);

}  // namespace
}  // namespace sagaworks::payment
