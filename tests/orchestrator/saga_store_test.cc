// SagaStore against a real PostgreSQL: one saga per order, version-checked
// commits, the step log, and what recovery reads.
#include "orchestrator/saga_store.h"

#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::orchestrator {
namespace {

v1::StartSagaRequest Request() {
  v1::StartSagaRequest r;
  r.set_order_id("11111111-1111-1111-1111-111111111111");
  r.set_customer_id("alice");
  v1::OrderItem* item = r.add_items();
  item->set_sku("widget");
  item->set_quantity(2);
  r.mutable_shipping_address()->set_country("DE");
  return r;
}

class SagaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::TestPostgres::Get().NewPool(migrations::orchestrator());
    store_ = std::make_unique<SagaStore>(*pool_);
  }
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<SagaStore> store_;
};

TEST_F(SagaStoreTest, OneSagaPerOrder) {
  bool created = false;
  auto first = store_->Create(Request(), &created);
  SW_ASSERT_OK(first.status());
  EXPECT_TRUE(created);
  auto second = store_->Create(Request(), &created);
  SW_ASSERT_OK(second.status());
  EXPECT_FALSE(created);
  EXPECT_EQ(first->saga_id, second->saga_id);
  EXPECT_EQ(second->request.items(0).sku(), "widget");
  EXPECT_EQ(second->state.status, SagaStatus::kRunning);
  EXPECT_EQ(second->state.current_step, kReserveStock);
}

TEST_F(SagaStoreTest, CommitAppendsLogAndRejectsStaleVersions) {
  bool created;
  SagaRecord record = *store_->Create(Request(), &created);
  SagaState next = record.state;
  next.attempt = 1;
  next.step_deadline = absl::FromUnixSeconds(1800000000);
  StepLogEntry entry{1, "reserve_stock", CallKind::kAction, 1, "started", ""};
  auto version = store_->Commit(record, next, entry, absl::Now());
  SW_ASSERT_OK(version.status());
  EXPECT_EQ(*version, record.version + 1);
  // A second writer still holding the old version loses.
  EXPECT_EQ(store_->Commit(record, next, entry, absl::Now()).status().code(),
            absl::StatusCode::kAborted);

  SagaRecord loaded = *store_->Load(record.saga_id);
  EXPECT_EQ(loaded.version, *version);
  EXPECT_EQ(loaded.state.attempt, 1);
  EXPECT_EQ(loaded.state.step_deadline, next.step_deadline);

  v1::Saga described = *store_->Describe("", record.order_id);
  ASSERT_EQ(described.steps_size(), 1);
  EXPECT_EQ(described.steps(0).name(), "reserve_stock");
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_STARTED);
}

TEST_F(SagaStoreTest, UnfinishedListsOnlyRunningAndCompensating) {
  bool created;
  SagaRecord record = *store_->Create(Request(), &created);
  ASSERT_EQ(store_->Unfinished()->size(), 1u);
  SagaState done = record.state;
  done.status = SagaStatus::kCompleted;
  SW_ASSERT_OK(
      store_
          ->Commit(record, done,
                   {4, "approve_order", CallKind::kAction, 1, "succeeded", ""},
                   absl::Now())
          .status());
  EXPECT_TRUE(store_->Unfinished()->empty());
  v1::ListSagasRequest completed;
  completed.set_status(v1::SAGA_STATUS_COMPLETED);
  EXPECT_EQ(store_->List(completed, 10)->sagas_size(), 1);
}

}  // namespace
}  // namespace sagaworks::orchestrator
