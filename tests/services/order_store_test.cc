// OrderStore against a real PostgreSQL: orders, their outbox, transitions and
// paging.
#include "services/order/order_store.h"

#include <set>

#include "common/platform/services.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "services/order/order_service.h"
#include "tests/testing/demo.h"
#include "tests/testing/one_statement.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::order {
namespace {

v1::CreateOrderRequest Request(const std::string& customer) {
  v1::CreateOrderRequest r;
  r.set_customer_id(customer);
  v1::OrderItem* item = r.add_items();
  item->set_sku("widget");
  item->set_quantity(2);
  item = r.add_items();
  item->set_sku("gadget");
  item->set_quantity(1);
  *r.mutable_shipping_address() = testing::DemoAddress();
  return r;
}

// NewOrder: a request's order as the service plans it.
v1::Order NewOrder(const std::string& customer) {
  return PlannedOrder(Request(customer), absl::Now());
}

class OrderStoreTest : public ::testing::TestWithParam<testing::WritePath> {
 protected:
  void SetUp() override {
    pool_ = testing::TestPostgres::Get().NewPool(
        migrations::ForService(platform::Info(platform::Service::kOrder).name));
    store_ = std::make_unique<OrderStore>(*pool_);
  }
  // Writes as the service makes them, by the path under test.
  absl::StatusOr<v1::Order> Create(const v1::Order& planned) {
    return testing::HandlerWrite<v1::Order>(
        *pool_, GetParam(), planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_->CreateOnce(tx, k, planned);
        },
        [&](pqxx::work& tx) { return store_->CreateIn(tx, planned); });
  }
  absl::StatusOr<v1::Order> Approve(const std::string& order_id,
                                    int64_t total_cents,
                                    const std::string& saga_id = "") {
    // With no plan, the transaction alone, as the service does.
    absl::StatusOr<std::optional<v1::Order>> plan =
        store_->PlanApproval(order_id, total_cents, saga_id, absl::Now());
    const bool planned = plan.ok() && plan->has_value();
    return testing::HandlerWrite<v1::Order>(
        *pool_, planned ? GetParam() : testing::WritePath::kTransaction,
        planned ? **plan : v1::Order(),
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_->ApproveOnce(tx, k, **plan);
        },
        [&](pqxx::work& tx) {
          return store_->ApproveIn(tx, order_id, total_cents, saga_id);
        });
  }
  absl::StatusOr<v1::Order> Reject(const std::string& order_id,
                                   const std::string& reason,
                                   int64_t total_cents, bool cancelled = false,
                                   const std::string& saga_id = "") {
    return pool_->TransactOr<v1::Order>("reject", [&](pqxx::work& tx) {
      return store_->RejectIn(tx, order_id, reason, total_cents, cancelled,
                              saga_id);
    });
  }
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<OrderStore> store_;
};

TEST_P(OrderStoreTest, CreateStoresPendingOrderWithItemsAndOutboxEntry) {
  auto order = Create(NewOrder("alice"));
  SW_ASSERT_OK(order.status());
  EXPECT_EQ(order->status(), v1::ORDER_STATUS_PENDING);
  ASSERT_EQ(order->items_size(), 2);
  EXPECT_EQ(order->items(0).sku(), "widget");
  EXPECT_EQ(order->shipping_address().country(), "DE");

  auto due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].order.order_id(), order->order_id());

  SW_ASSERT_OK(store_->MarkDelivered(
      {{(*due)[0].order.order_id(), "33333333-3333-3333-3333-333333333333"}}));
  EXPECT_TRUE(store_->DueOutbox(10)->empty());
  EXPECT_EQ(store_->Get(order->order_id())->saga_id(),
            "33333333-3333-3333-3333-333333333333");
  // The outbox keeps only what is still to go.
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM outbox"), 0);
  // Recording the delivery again (an entry handed over and read back at
  // once) changes nothing.
  SW_ASSERT_OK(store_->MarkDelivered(
      {{(*due)[0].order.order_id(), "44444444-4444-4444-4444-444444444444"}}));
  EXPECT_EQ(store_->Get(order->order_id())->saga_id(),
            "33333333-3333-3333-3333-333333333333");
}

TEST_P(OrderStoreTest, CreateOnceStoresWhatItAnswersOrNothingOnAStoredKey) {
  auto once = [&](const v1::Order& planned) {
    return testing::StoredOnce(*pool_, [&](pqxx::transaction_base& tx) {
      return store_->CreateOnce(tx, testing::TestKey("k1"), planned);
    });
  };
  const v1::Order planned = NewOrder("alice");
  ASSERT_TRUE(once(planned));
  // A read gives back the answer, byte for byte (times included).
  auto read = store_->Get(planned.order_id());
  SW_ASSERT_OK(read.status());
  EXPECT_EQ(read->SerializeAsString(), planned.SerializeAsString());
  auto due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].order.order_id(), planned.order_id());
  // The same key again: no second order.
  EXPECT_FALSE(once(NewOrder("alice")));
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM orders"), 1);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM order_items"), 2);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM outbox"), 1);
}

TEST_P(OrderStoreTest, ApproveOnceWritesThePlanUnlessTheOrderChangedSince) {
  auto order = Create(NewOrder("alice"));
  SW_ASSERT_OK(order.status());
  auto approve = [&](const v1::Order& plan, const std::string& key) {
    return testing::StoredOnce(*pool_, [&](pqxx::transaction_base& tx) {
      return store_->ApproveOnce(tx, testing::TestKey(key), plan);
    });
  };
  auto stale = store_->PlanApproval(order->order_id(), 4997, "", absl::Now());
  SW_ASSERT_OK(stale.status());
  ASSERT_TRUE(stale->has_value());
  // The relay records the saga after the plan was read: a plan made without
  // the approving saga's id (from an orchestrator that does not send it)
  // is stale then.
  auto due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  SW_ASSERT_OK(store_->MarkDelivered(
      {{(*due)[0].order.order_id(), "33333333-3333-3333-3333-333333333333"}}));
  EXPECT_FALSE(approve(**stale, "k1"));
  EXPECT_EQ(store_->Get(order->order_id())->status(), v1::ORDER_STATUS_PENDING);
  EXPECT_EQ(
      testing::QueryInt(
          *pool_,
          "SELECT count(*) FROM idempotency_keys WHERE scope = 'test-caller'"),
      0);

  auto plan = store_->PlanApproval(order->order_id(), 4997, "", absl::Now());
  SW_ASSERT_OK(plan.status());
  ASSERT_TRUE(plan->has_value());
  EXPECT_EQ((*plan)->saga_id(), "33333333-3333-3333-3333-333333333333");
  ASSERT_TRUE(approve(**plan, "k1"));
  // A read gives back the answer, byte for byte.
  EXPECT_EQ(store_->Get(order->order_id())->SerializeAsString(),
            (*plan)->SerializeAsString());
  EXPECT_EQ((*plan)->status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ((*plan)->total_cents(), 4997);
  // Approved now: nothing to plan, and an unknown order neither.
  EXPECT_FALSE(store_->PlanApproval(order->order_id(), 4997, "", absl::Now())
                   ->has_value());
  EXPECT_FALSE(store_
                   ->PlanApproval("44444444-4444-4444-4444-444444444444", 1, "",
                                  absl::Now())
                   ->has_value());
}

// The relay records each order's saga after delivering it, and may do so
// after the saga has ended: the saga's own approval or rejection gives the
// order its saga id, and the relay's later record changes nothing else.
TEST_P(OrderStoreTest, TheDecidingSagaIsRecordedWhenTheRelayHasNotYet) {
  const std::string saga = "33333333-3333-3333-3333-333333333333";
  const v1::Order planned = NewOrder("alice");
  auto created = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->CreateOnce(tx, testing::TestKey("k1"), planned);
  });
  ASSERT_TRUE(created.ok() && *created);
  auto plan = store_->PlanApproval(planned.order_id(), 3998, saga, absl::Now());
  SW_ASSERT_OK(plan.status());
  ASSERT_TRUE(plan->has_value());
  EXPECT_EQ((*plan)->saga_id(), saga);
  auto approved = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->ApproveOnce(tx, testing::TestKey("k2"), **plan);
  });
  SW_ASSERT_OK(approved.status());
  ASSERT_TRUE(*approved);
  auto read = store_->Get(planned.order_id());
  SW_ASSERT_OK(read.status());
  EXPECT_EQ(read->SerializeAsString(), (*plan)->SerializeAsString());

  // The relay's record comes later: the entry goes, the order stays as the
  // approval left it (its update time included).
  auto due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 1u);
  SW_ASSERT_OK(store_->MarkDelivered({{(*due)[0].order.order_id(), saga}}));
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(store_->Get(planned.order_id())->SerializeAsString(),
            read->SerializeAsString());

  // The full paths record it too, and keep a saga id already recorded.
  auto rejected = Create(NewOrder("alice"));
  SW_ASSERT_OK(rejected.status());
  auto r = Reject(rejected->order_id(), "out of stock", 0,
                  /*cancelled=*/false, saga);
  SW_ASSERT_OK(r.status());
  EXPECT_EQ(r->saga_id(), saga);
  EXPECT_EQ(store_->Get(rejected->order_id())->saga_id(), saga);
  auto other = Create(NewOrder("alice"));
  SW_ASSERT_OK(other.status());
  due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 2u);
  SW_ASSERT_OK(store_->MarkDelivered({{(*due)[0].order.order_id(), saga},
                                      {(*due)[1].order.order_id(), saga}}));
  auto a =
      Approve(other->order_id(), 1999, "55555555-5555-5555-5555-555555555555");
  SW_ASSERT_OK(a.status());
  EXPECT_EQ(a->saga_id(), saga);
}

TEST_P(OrderStoreTest, AnOrderItCreatedAndDeliveredIsPlannedFromMemory) {
  const v1::Order planned = NewOrder("alice");
  auto created = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->CreateOnce(tx, testing::TestKey("k1"), planned);
  });
  ASSERT_TRUE(created.ok() && *created);
  auto due = store_->DueOutbox(10);
  SW_ASSERT_OK(due.status());
  SW_ASSERT_OK(store_->MarkDelivered(
      {{(*due)[0].order.order_id(), "33333333-3333-3333-3333-333333333333"}}));
  // Behind the store's back, the order stops being PENDING. A plan from
  // memory does not see it; the one statement does, and writes nothing.
  SW_ASSERT_OK(pool_->Autocommit("cancel", [&](pqxx::nontransaction& tx) {
    tx.exec("UPDATE orders SET status = 'cancelled'");
    return absl::OkStatus();
  }));
  auto plan = store_->PlanApproval(planned.order_id(), 3998, "", absl::Now());
  SW_ASSERT_OK(plan.status());
  ASSERT_TRUE(plan->has_value());
  EXPECT_EQ((*plan)->saga_id(), "33333333-3333-3333-3333-333333333333");
  EXPECT_EQ((*plan)->create_time().seconds(), planned.create_time().seconds());
  auto approved = testing::WriteOnce(*pool_, [&](pqxx::transaction_base& tx) {
    return store_->ApproveOnce(tx, testing::TestKey("k2"), **plan);
  });
  SW_ASSERT_OK(approved.status());
  EXPECT_FALSE(*approved);
  EXPECT_EQ(store_->Get(planned.order_id())->status(),
            v1::ORDER_STATUS_CANCELLED);
  // The full path refuses and forgets the order: the next plan reads.
  EXPECT_EQ(Approve(planned.order_id(), 3998).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->PlanApproval(planned.order_id(), 3998, "", absl::Now())
                   ->has_value());
}

TEST_P(OrderStoreTest, FailedDeliveryIsRetriedLater) {
  auto order = Create(NewOrder("alice"));
  SW_ASSERT_OK(order.status());
  auto due = store_->DueOutbox(10);
  ASSERT_EQ(due->size(), 1u);
  SW_ASSERT_OK(store_->MarkAttemptFailed((*due)[0], "UNAVAILABLE: down",
                                         absl::Hours(1)));
  EXPECT_TRUE(store_->DueOutbox(10)->empty());
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT attempts FROM outbox LIMIT 1"),
            1);
}

// A batch takes the entries soonest due: one whose delivery failed goes
// behind those that came due before its retry, and delivered ones are
// never seen again.
TEST_P(OrderStoreTest, TheRelayTakesTheEntriesSoonestDue) {
  auto delivered = Create(NewOrder("alice"));
  SW_ASSERT_OK(delivered.status());
  auto failed = Create(NewOrder("alice"));
  SW_ASSERT_OK(failed.status());
  auto due = store_->DueOutbox(10);
  ASSERT_EQ(due->size(), 2u);
  SW_ASSERT_OK(store_->MarkDelivered(
      {{(*due)[0].order.order_id(), "33333333-3333-3333-3333-333333333333"}}));
  // Due again at once, but after the orders placed below were due.
  auto second = store_->DueOutbox(10);
  ASSERT_EQ(second->size(), 1u);
  auto b = Create(NewOrder("alice"));
  auto c = Create(NewOrder("alice"));
  SW_ASSERT_OK(c.status());
  SW_ASSERT_OK(store_->MarkAttemptFailed((*second)[0], "UNAVAILABLE: down",
                                         absl::ZeroDuration()));
  auto batch = store_->DueOutbox(2);
  SW_ASSERT_OK(batch.status());
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].order.order_id(), b->order_id());
  EXPECT_EQ((*batch)[1].order.order_id(), c->order_id());
  // With room for all, the failed one comes too; the delivered one never.
  auto all = store_->DueOutbox(10);
  ASSERT_EQ(all->size(), 3u);
  std::set<std::string> ids;
  for (const OutboxEntry& e : *all) ids.insert(e.order.order_id());
  EXPECT_EQ(ids.count(failed->order_id()), 1u);
  EXPECT_EQ(ids.count(delivered->order_id()), 0u);
}

TEST_P(OrderStoreTest, ApproveAndRejectAreFinalAndRepeatable) {
  auto a = Create(NewOrder("alice"));
  auto b = Create(NewOrder("bob"));
  auto approved = Approve(a->order_id(), 8997);
  SW_ASSERT_OK(approved.status());
  EXPECT_EQ(approved->status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(approved->total_cents(), 8997);
  SW_EXPECT_OK(Approve(a->order_id(), 8997).status());
  EXPECT_EQ(Reject(a->order_id(), "late", 0).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto rejected = Reject(b->order_id(), "insufficient funds", 0);
  SW_ASSERT_OK(rejected.status());
  EXPECT_EQ(rejected->failure_reason(), "insufficient funds");
  EXPECT_EQ(Approve(b->order_id(), 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Get("44444444-4444-4444-4444-444444444444").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(OrderStoreTest, ListPagesNewestFirstWithoutGapsOrRepeats) {
  std::vector<std::string> created;
  for (int i = 0; i < 7; ++i) {
    created.push_back(Create(NewOrder(i % 2 ? "bob" : "alice"))->order_id());
  }
  std::vector<std::string> seen;
  v1::ListOrdersRequest request;
  do {
    auto page = store_->List(request, 3);
    SW_ASSERT_OK(page.status());
    for (const auto& o : page->orders()) seen.push_back(o.order_id());
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  std::vector<std::string> expected(created.rbegin(), created.rend());
  EXPECT_EQ(seen, expected);

  v1::ListOrdersRequest bobs;
  bobs.set_customer_id("bob");
  EXPECT_EQ(store_->List(bobs, 50)->orders_size(), 3);
  v1::ListOrdersRequest bad;
  bad.set_page_token("not-a-token");
  EXPECT_EQ(store_->List(bad, 50).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// What a customer reads of a failed order: a category, never the words of
// another service (balances, stock levels) or of the platform's own failure.
TEST(FailureCategoryTest, CustomersReadACategoryOnly) {
  EXPECT_EQ(FailureCategory(""), "");
  EXPECT_EQ(FailureCategory("charge_payment: FAILED_PRECONDITION: insufficient "
                            "funds: customer 'bob' has 100 cents, charge is "
                            "1999 cents"),
            "insufficient funds");
  EXPECT_EQ(FailureCategory("reserve_stock: FAILED_PRECONDITION: out of stock: "
                            "sku 'gizmo' has 0 available, 1 requested"),
            "out of stock");
  EXPECT_EQ(FailureCategory("create_shipment: FAILED_PRECONDITION: "
                            "undeliverable: no shipping to country 'ZZ'"),
            "undeliverable address");
  EXPECT_EQ(FailureCategory("cancelled: customer asked"), "cancelled");
  EXPECT_EQ(FailureCategory("cancelled"), "cancelled");
  EXPECT_EQ(FailureCategory("charge_payment: UNAVAILABLE: connection refused "
                            "(gave up after 7 attempts)"),
            "internal error");
  EXPECT_EQ(FailureCategory("charge_payment: NOT_FOUND: unknown customer 'x'"),
            "internal error");
}

INSTANTIATE_TEST_SUITE_P(
    Paths, OrderStoreTest,
    ::testing::Values(testing::WritePath::kTransaction,
                      testing::WritePath::kOneStatementFirst),
    testing::WritePathName);

}  // namespace
}  // namespace sagaworks::order
