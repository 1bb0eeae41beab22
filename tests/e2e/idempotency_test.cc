// End to end: server-side idempotency through the real services.
#include "common/idempotency/idempotency.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "common/db/pool.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/orders.h"
#include "tests/testing/platform_suite.h"

namespace sagaworks {
namespace {

struct Answer {
  grpc::Status status;
  bool replay = false;
};

// Makes one call with the given metadata and reports its status and whether
// the server marked it a replay.
template <typename Call>
Answer Send(const std::vector<std::pair<std::string, std::string>>& metadata,
            Call call) {
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  for (const auto& [k, v] : metadata) c.AddMetadata(k, v);
  Answer a;
  a.status = call(&c);
  const auto& headers = c.GetServerInitialMetadata();
  auto it = headers.find("idempotent-replay");
  a.replay = it != headers.end() && it->second == "true";
  return a;
}

class IdempotencyTest : public testing::PlatformSuite {
 protected:
  void SetUp() override {
    PlatformSuite::SetUp();
    if (IsSkipped()) return;
    // alice places the orders; the saga's own calls are made as the
    // processes that make them.
    orders_ = Orders("alice");
    approver_ = v1::OrderService::NewStub(
        ChannelFrom(Service::kOrder, Service::kOrchestrator));
    payment_ = v1::PaymentService::NewStub(ChannelTo(Service::kPayment));
    charger_ = v1::PaymentService::NewStub(
        ChannelFrom(Service::kPayment, Service::kOrchestrator));
  }

  static v1::CreateOrderRequest Order(int widgets) {
    v1::CreateOrderRequest r;
    r.set_customer_id("alice");
    v1::OrderItem* item = r.add_items();
    item->set_sku("widget");
    item->set_quantity(widgets);
    *r.mutable_shipping_address() = testing::DemoAddress();
    return r;
  }

  Answer Create(const std::string& key, const v1::CreateOrderRequest& r,
                v1::Order* out) {
    std::vector<std::pair<std::string, std::string>> md;
    if (!key.empty()) md.emplace_back("idempotency-key", key);
    return Send(md, [&](grpc::ClientContext* c) {
      return orders_->CreateOrder(c, r, out);
    });
  }

  int64_t Balance() {
    v1::Balance b;
    v1::GetBalanceRequest r;
    r.set_customer_id("alice");
    Send({}, [&](grpc::ClientContext* c) {
      return payment_->GetBalance(c, r, &b);
    });
    return b.balance_cents();
  }

  v1::Order AwaitFinal(const std::string& id) {
    return testing::AwaitOrderFinal(*orders_, id);
  }

  // Every saga belongs to an order that exists: a call whose write lost to
  // a concurrent one with the same key must start no saga (it would charge
  // for an order nobody has).
  void ExpectEverySagaHasItsOrder() {
    auto sagas =
        v1::SagaOrchestrator::NewStub(ChannelTo(Service::kOrchestrator));
    v1::ListSagasRequest list;
    list.set_page_size(500);
    v1::ListSagasResponse listed;
    ASSERT_TRUE(Send({}, [&](grpc::ClientContext* c) {
                  return sagas->ListSagas(c, list, &listed);
                }).status.ok());
    for (const v1::Saga& saga : listed.sagas()) {
      v1::GetOrderRequest get;
      get.set_order_id(saga.order_id());
      v1::Order order;
      EXPECT_TRUE(Send({},
                       [&](grpc::ClientContext* c) {
                         return orders_->GetOrder(c, get, &order);
                       })
                      .status.ok())
          << "saga " << saga.saga_id() << " is for unknown order "
          << saga.order_id();
    }
  }

  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::OrderService::Stub> approver_;
  std::unique_ptr<v1::PaymentService::Stub> charger_;
  std::unique_ptr<v1::PaymentService::Stub> payment_;
};

TEST_F(IdempotencyTest, SameKeySameOrderReplaysAndChargesOnce) {
  const int64_t before = Balance();
  v1::Order first, second;
  Answer a = Create("replay-1", Order(2), &first);
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_FALSE(a.replay);
  AwaitFinal(first.order_id());
  Answer b = Create("replay-1", Order(2), &second);
  ASSERT_TRUE(b.status.ok());
  EXPECT_TRUE(b.replay);
  // The stored response, identical: the order as it was first answered.
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(AwaitFinal(first.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(Balance(), before - 2 * 1999);
}

TEST_F(IdempotencyTest, KeyReusedWithADifferentRequestIsRefused) {
  v1::Order order;
  ASSERT_TRUE(Create("reuse-1", Order(1), &order).status.ok());
  AwaitFinal(order.order_id());  // its charge must not land in a later test
  Answer again = Create("reuse-1", Order(5), &order);
  EXPECT_EQ(again.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(again.status.error_message(),
            "idempotency key reused with a different request");
}

TEST_F(IdempotencyTest, MissingOrMalformedKeysAreRefusedAndCreateNothing) {
  v1::ListOrdersResponse before, after;
  v1::ListOrdersRequest list;
  list.set_page_size(500);
  Send({}, [&](grpc::ClientContext* c) {
    return orders_->ListOrders(c, list, &before);
  });
  v1::Order order;
  // gRPC clients refuse non-printable header values themselves, so empty and
  // over-long keys are what can reach the server.
  for (const std::string& key : {std::string(), std::string(256, 'k')}) {
    Answer a = Create(key, Order(1), &order);
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "key of " << key.size() << " bytes";
    EXPECT_NE(a.status.error_message().find("idempotency-key"),
              std::string::npos);
  }
  Send({}, [&](grpc::ClientContext* c) {
    return orders_->ListOrders(c, list, &after);
  });
  EXPECT_EQ(after.orders_size(), before.orders_size());
}

TEST_F(IdempotencyTest, TwentyConcurrentDuplicatesCreateOneOrder) {
  const int64_t before = Balance();
  absl::Mutex mu;
  std::set<std::string> ids;
  std::atomic<int> ok{0}, aborted{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      v1::Order order;
      Answer a = Create("concurrent-1", Order(1), &order);
      if (a.status.ok()) {
        ++ok;
        absl::MutexLock lock(&mu);
        ids.insert(order.order_id());
      } else if (a.status.error_code() == grpc::StatusCode::ABORTED) {
        ++aborted;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ids.size(), 1u);  // every success is the same order
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(AwaitFinal(*ids.begin()).status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(Balance(), before - 1999);
  ExpectEverySagaHasItsOrder();
}

TEST_F(IdempotencyTest, FiftyConcurrentDuplicateChargesTakeMoneyOnce) {
  const int64_t before = Balance();
  v1::ChargeRequest charge;
  charge.set_order_id("0c0c0c0c-0000-4000-8000-000000000050");
  charge.set_customer_id("alice");
  charge.set_amount_cents(777);
  std::atomic<int> ok{0}, replays{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      v1::Charge out;
      Answer a =
          Send({{"idempotency-key", "charge-50"}}, [&](grpc::ClientContext* c) {
            return charger_->Charge(c, charge, &out);
          });
      if (a.status.ok()) ++ok;
      if (a.replay) ++replays;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(replays.load(), ok.load() - 1);  // one ran, the rest replayed
  EXPECT_EQ(Balance(), before - 777);
}

TEST_F(IdempotencyTest,
       ARefundBeforeItsChargeLeavesTheBalanceAndRefusesTheCharge) {
  const int64_t before = Balance();
  const std::string order_id = "0d0d0d0d-0000-4000-8000-000000000001";
  v1::RefundRequest refund;
  refund.set_order_id(order_id);
  v1::Charge out;
  ASSERT_TRUE(
      Send({{"idempotency-key", "refund-first"}}, [&](grpc::ClientContext* c) {
        return charger_->Refund(c, refund, &out);
      }).status.ok());
  v1::ChargeRequest charge;
  charge.set_order_id(order_id);
  charge.set_customer_id("alice");
  charge.set_amount_cents(1999);
  Answer late =
      Send({{"idempotency-key", "charge-late"}}, [&](grpc::ClientContext* c) {
        return charger_->Charge(c, charge, &out);
      });
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Balance(), before);
  // A refusal is an outcome too: the retry replays it.
  Answer retry =
      Send({{"idempotency-key", "charge-late"}}, [&](grpc::ClientContext* c) {
        return charger_->Charge(c, charge, &out);
      });
  EXPECT_EQ(retry.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(retry.replay);
}

TEST_F(IdempotencyTest, ATransientAnswerIsNotStoredForTheKey) {
  // A cancel that arrives before the order's saga exists is "not yet", not
  // "no": the retry under the same key must be evaluated again, not replayed.
  auto sagas = v1::SagaOrchestrator::NewStub(
      ChannelFrom(Service::kOrchestrator, Service::kOrder));
  v1::CancelSagaRequest cancel;
  cancel.set_order_id("0a0a0a0a-0000-4000-8000-000000000001");
  v1::Saga saga;
  for (int i = 0; i < 2; ++i) {
    Answer a = Send({{"idempotency-key", "cancel-too-early"}},
                    [&](grpc::ClientContext* c) {
                      return sagas->CancelSaga(c, cancel, &saga);
                    });
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_FALSE(a.replay) << "attempt " << i;
  }
}

// Keys belong to the authenticated caller: bob's "shared" is not alice's,
// and a tenant header claims nothing (alice's key stays hers whatever tenant
// she names, so a changed request under it is a reuse).
TEST_F(IdempotencyTest, KeysAreScopedByTheAuthenticatedCaller) {
  v1::Order alices, bobs, again;
  ASSERT_TRUE(Create("shared", Order(1), &alices).status.ok());
  v1::CreateOrderRequest bob_order = Order(1);
  bob_order.set_customer_id("bob");
  Answer other =
      Send({{"idempotency-key", "shared"}}, [&](grpc::ClientContext* c) {
        return Orders("bob")->CreateOrder(c, bob_order, &bobs);
      });
  ASSERT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_FALSE(other.replay);
  EXPECT_NE(bobs.order_id(), alices.order_id());

  Answer claimed =
      Send({{"idempotency-key", "shared"}, {"x-tenant-id", "globex"}},
           [&](grpc::ClientContext* c) {
             return orders_->CreateOrder(c, Order(2), &again);
           });
  EXPECT_EQ(claimed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  AwaitFinal(alices.order_id());
  testing::AwaitOrderFinal(
      *v1::OrderService::NewStub(ChannelTo(Service::kOrder)), bobs.order_id());
}

TEST_F(IdempotencyTest, AReplayWorksAfterTheServiceRestartedAndKeysExpire) {
  v1::ChargeRequest charge;
  charge.set_order_id("0f0f0f0f-0000-4000-8000-000000000001");
  charge.set_customer_id("alice");
  charge.set_amount_cents(11);
  v1::Charge first, again;
  auto call = [&](v1::Charge* out) {
    return Send({{"idempotency-key", "survives-restart"}},
                [&](grpc::ClientContext* c) {
                  return charger_->Charge(c, charge, out);
                });
  };
  ASSERT_TRUE(call(&first).status.ok());
  const auto& spec = platform::Info(Service::kPayment);
  ASSERT_TRUE(platform().platform().StopService(spec, /*hard=*/true).ok());
  ASSERT_TRUE(platform().platform().StartService(spec).ok());
  ASSERT_TRUE(platform().platform().WaitServing({&spec}).ok());
  Answer replay = call(&again);
  ASSERT_TRUE(replay.status.ok()) << replay.status.error_message();
  EXPECT_TRUE(replay.replay);
  EXPECT_EQ(again.charge_id(), first.charge_id());

  // Expiry: once older than the retention, the purge removes it.
  std::unique_ptr<db::Pool> pool = Database(Service::kPayment);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Transact("age",
                             [](pqxx::work& tx) {
                               tx.exec(
                                   "UPDATE idempotency_keys SET created_at = "
                                   "now() - interval '25 hours' WHERE key = "
                                   "'survives-restart'");
                               return absl::OkStatus();
                             })
                  .ok());
  idempotency::Idempotency purger(*pool, "sagaworks.v1.PaymentService", {});
  absl::StatusOr<int64_t> purged = purger.Purge();
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  absl::StatusOr<int64_t> left = pool->TransactOr<int64_t>(
      "count", [](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        return tx
            .exec1(
                "SELECT count(*) FROM idempotency_keys WHERE key = "
                "'survives-restart'")[0]
            .as<int64_t>();
      });
  EXPECT_EQ(*left, 0);
}

// An orchestrator from before ApproveOrderRequest.saga_id existed approved an
// order and died before recording it; its successor retries the same call
// (the same key) with the saga id. That is the same call: a replay. Refused
// as a key reused with a different request (INVALID_ARGUMENT, a final
// answer), it would send the saga into compensating: refunding, releasing
// and cancelling the shipment of an order that stays APPROVED. Keys stored
// while the saga id was part of the fingerprint are honoured too.
TEST_F(IdempotencyTest, AnApprovalRetriedWithTheSagaIdItLackedIsAReplay) {
  // Its saga cannot start yet, so the order waits, PENDING, for the calls
  // below.
  const std::string start_saga = "/sagaworks.v1.SagaOrchestrator/StartSaga";
  ASSERT_TRUE(SetChaos(Service::kOrchestrator, start_saga, 1.0, 0).ok());
  v1::Order order;
  Answer created = Create("approve-upgrade-order", Order(1), &order);
  ASSERT_TRUE(created.status.ok()) << created.status.error_message();
  ASSERT_EQ(order.status(), v1::ORDER_STATUS_PENDING);

  auto approve = [&](const std::string& key, const std::string& saga_id,
                     v1::Order* out) {
    v1::ApproveOrderRequest r;
    r.set_order_id(order.order_id());
    r.set_total_cents(order.total_cents());
    r.set_saga_id(saga_id);
    return Send({{"idempotency-key", key}}, [&](grpc::ClientContext* c) {
      return approver_->ApproveOrder(c, r, out);
    });
  };
  const std::string saga_id = "5a9a0000-0000-4000-8000-000000000001";
  v1::Order first, again;
  Answer old = approve("approve-upgrade", "", &first);
  ASSERT_TRUE(old.status.ok()) << old.status.error_message();
  EXPECT_EQ(first.status(), v1::ORDER_STATUS_APPROVED);
  Answer retried = approve("approve-upgrade", saga_id, &again);
  ASSERT_TRUE(retried.status.ok()) << retried.status.error_message();
  EXPECT_TRUE(retried.replay);
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());

  // A key stored with the saga id in its fingerprint (as before) answers a
  // retry that brings the same saga id.
  v1::ApproveOrderRequest whole;
  whole.set_order_id(order.order_id());
  whole.set_total_cents(order.total_cents());
  whole.set_saga_id(saga_id);
  std::unique_ptr<db::Pool> pool = Database(Service::kOrder);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Transact("refingerprint",
                             [&](pqxx::work& tx) {
                               tx.exec_params(
                                   "UPDATE idempotency_keys SET fingerprint = "
                                   "$1 WHERE key = 'approve-upgrade'",
                                   idempotency::Fingerprint(whole));
                               return absl::OkStatus();
                             })
                  .ok());
  Answer stored_whole = approve("approve-upgrade", saga_id, &again);
  ASSERT_TRUE(stored_whole.status.ok()) << stored_whole.status.error_message();
  EXPECT_TRUE(stored_whole.replay);
  // What is asked still counts: another total is another request.
  v1::ApproveOrderRequest other = whole;
  other.set_total_cents(order.total_cents() + 1);
  Answer changed = Send({{"idempotency-key", "approve-upgrade"}},
                        [&](grpc::ClientContext* c) {
                          return approver_->ApproveOrder(c, other, &again);
                        });
  EXPECT_EQ(changed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The saga then runs: its own approval finds the order approved. It must
  // end before the next test reads alice's balance.
  ASSERT_TRUE(ClearChaos(Service::kOrchestrator).ok());
  auto sagas = v1::SagaOrchestrator::NewStub(ChannelTo(Service::kOrchestrator));
  v1::Saga saga;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    v1::GetSagaRequest get;
    get.set_order_id(order.order_id());
    if (Send({},
             [&](grpc::ClientContext* c) {
               return sagas->GetSaga(c, get, &saga);
             })
            .status.ok() &&
        saga.status() == v1::SAGA_STATUS_COMPLETED) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(saga.status(), v1::SAGA_STATUS_COMPLETED);
  EXPECT_EQ(AwaitFinal(order.order_id()).status(), v1::ORDER_STATUS_APPROVED);
}

}  // namespace
}  // namespace sagaworks
