// PaymentStore against a real PostgreSQL.
#include "services/payment/payment_store.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::payment {
namespace {

using testing::TestPostgres;

constexpr char kOrder1[] = "11111111-1111-1111-1111-111111111111";
constexpr char kOrder2[] = "22222222-2222-2222-2222-222222222222";

class PaymentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = TestPostgres::Get().NewPool(migrations::payment());
    SW_ASSERT_OK(db::ApplySeed(*pool_, testing::DemoData("payment.sql")));
    store_ = std::make_unique<PaymentStore>(*pool_);
  }
  int64_t Balance(const std::string& customer) {
    return store_->GetBalance(customer)->balance_cents();
  }

  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<PaymentStore> store_;
};

TEST_F(PaymentStoreTest, ChargeDebitsOnceEvenWhenRepeated) {
  auto first = store_->Charge(kOrder1, "alice", 3998);
  auto again = store_->Charge(kOrder1, "alice", 3998);
  SW_ASSERT_OK(first.status());
  SW_ASSERT_OK(again.status());
  EXPECT_EQ(first->charge_id(), again->charge_id());
  EXPECT_EQ(Balance("alice"), 1000000 - 3998);
}

TEST_F(PaymentStoreTest, InsufficientFundsChargesNothing) {
  auto r = store_->Charge(kOrder1, "bob", 1999);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("insufficient funds"),
            absl::string_view::npos);
  EXPECT_EQ(Balance("bob"), 100);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM charges"), 0);
}

TEST_F(PaymentStoreTest, UnknownCustomerIsNotFound) {
  EXPECT_EQ(store_->Charge(kOrder1, "mallory", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetBalance("mallory").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM charges"), 0);
}

TEST_F(PaymentStoreTest, RefundReturnsTheMoneyOnce) {
  SW_ASSERT_OK(store_->Charge(kOrder1, "alice", 5000).status());
  auto refunded = store_->Refund(kOrder1);
  SW_ASSERT_OK(refunded.status());
  EXPECT_EQ(refunded->status(), v1::CHARGE_STATUS_REFUNDED);
  SW_ASSERT_OK(store_->Refund(kOrder1).status());
  EXPECT_EQ(Balance("alice"), 1000000);
}

TEST_F(PaymentStoreTest, RefundBeforeChargeRefusesTheLateCharge) {
  SW_ASSERT_OK(store_->Refund(kOrder2).status());
  EXPECT_EQ(store_->Charge(kOrder2, "alice", 100).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Balance("alice"), 1000000);
}

TEST_F(PaymentStoreTest, ConcurrentDuplicatesOfOneChargeDebitOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (store_->Charge(kOrder1, "alice", 777).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(Balance("alice"), 1000000 - 777);
}

}  // namespace
}  // namespace sagaworks::payment
