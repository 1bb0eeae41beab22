// End to end, with real processes: what the resilience library does when a
// service fails or hangs, driven through fault injection (ChaosService).
#include <fstream>
#include <iostream>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/observability/metrics.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/platform_suite.h"

namespace sagaworks {
namespace {

void Deadline(grpc::ClientContext* c, absl::Duration d = absl::Seconds(10)) {
  c->set_deadline(absl::ToChronoTime(absl::Now() + d));
}

class ResilienceTest : public testing::PlatformSuite {
 protected:
  static void SetUpTestSuite() {
    // A short step deadline keeps the test quick; everything else is default.
    StartPlatform(
        {{Name(Service::kOrchestrator), {"--step-timeout-seconds=3"}}});
  }
  void SetUp() override {
    PlatformSuite::SetUp();
    if (IsSkipped()) return;
    orders_ = v1::OrderService::NewStub(ChannelTo(Service::kOrder));
  }
  void TearDown() override {
    for (Service service :
         {Service::kPayment, Service::kShipping, Service::kInventory}) {
      (void)ClearChaos(service);
    }
  }

  void InjectChaos(Service service, const std::string& method,
                   double failure_rate, int64_t latency_ms) {
    grpc::Status s = SetChaos(service, method, failure_rate, latency_ms);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::ResilienceStatus Status(Service service) {
    auto admin = v1::AdminService::NewStub(ChannelTo(service));
    grpc::ClientContext c;
    Deadline(&c);
    v1::ResilienceStatus status;
    EXPECT_TRUE(admin->GetResilienceStatus(&c, {}, &status).ok());
    return status;
  }

  v1::DownstreamStatus OrchestratorView(Service downstream) {
    const v1::ResilienceStatus status = Status(Service::kOrchestrator);
    for (const auto& d : status.downstreams()) {
      if (d.name() == Name(downstream)) return d;
    }
    ADD_FAILURE() << "orchestrator reports no downstream " << Name(downstream);
    return {};
  }

  std::string Order(const std::string& sku, int qty) {
    v1::CreateOrderRequest r;
    r.set_customer_id("alice");
    v1::OrderItem* item = r.add_items();
    item->set_sku(sku);
    item->set_quantity(qty);
    *r.mutable_shipping_address() = testing::DemoAddress();
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", absl::StrCat("resilience-test-", ++keys_));
    v1::Order order;
    grpc::Status s = Orders("alice")->CreateOrder(&c, r, &order);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return order.order_id();
  }

  // Polls until every order has left PENDING (at most `limit`); returns them.
  std::vector<v1::Order> AwaitFinal(const std::vector<std::string>& ids,
                                    absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    std::vector<v1::Order> done(ids.size());
    std::set<size_t> pending;
    for (size_t i = 0; i < ids.size(); ++i) pending.insert(i);
    while (!pending.empty() && absl::Now() < deadline) {
      for (auto it = pending.begin(); it != pending.end();) {
        grpc::ClientContext c;
        Deadline(&c);
        v1::GetOrderRequest r;
        r.set_order_id(ids[*it]);
        if (orders_->GetOrder(&c, r, &done[*it]).ok() &&
            done[*it].status() != v1::ORDER_STATUS_PENDING) {
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(pending.empty()) << pending.size() << " orders still pending";
    return done;
  }

  int64_t Balance() { return PlatformSuite::Balance("alice"); }

  int64_t WidgetsAvailable() { return Stock("widget").available(); }

  // One sequence for the whole run: a key used by an earlier test would be
  // replayed (or refused as reused), not executed.
  static inline int keys_ = 0;
  std::unique_ptr<v1::OrderService::Stub> orders_;
};

TEST_F(ResilienceTest, FailingPaymentOpensTheBreakerAndNothingIsLost) {
  const int64_t balance = Balance();
  const int64_t widgets = WidgetsAvailable();
  const v1::DownstreamStatus payment_before =
      OrchestratorView(Service::kPayment);
  int64_t transitions_before = 0;
  for (const auto& b : payment_before.breakers()) {
    transitions_before += b.transitions();
  }
  InjectChaos(Service::kPayment, "/sagaworks.v1.PaymentService/Charge", 1.0, 0);

  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(Order("widget", 1));
  for (const v1::Order& o : AwaitFinal(ids, absl::Seconds(90))) {
    EXPECT_EQ(o.status(), v1::ORDER_STATUS_REJECTED);
    EXPECT_NE(o.failure_reason().find("charge_payment"), std::string::npos)
        << o.failure_reason();
  }
  EXPECT_EQ(Balance(), balance);
  EXPECT_EQ(WidgetsAvailable(), widgets);

  // The breaker opened, so payment saw far fewer charges than 20 orders times
  // the pipeline's 3 attempts, let alone the saga's own retries.
  const v1::DownstreamStatus payment = OrchestratorView(Service::kPayment);
  int64_t transitions = 0;
  for (const auto& b : payment.breakers()) transitions += b.transitions();
  EXPECT_GT(transitions, transitions_before);
  EXPECT_GT(payment.breaker_rejections(), 0);
  const int64_t charges_seen =
      Status(Service::kPayment).guard().injected_faults();
  EXPECT_LT(charges_seen, 20 * 3) << "charges that reached payment";
  std::cout << "20 orders with payment failing: " << charges_seen
            << " charges reached payment, " << payment.breaker_rejections()
            << " refused by the open breaker, "
            << transitions - transitions_before << " breaker transitions\n";

  // Cleared: the platform recovers by itself.
  TearDown();
  const std::string id = Order("widget", 1);
  std::vector<v1::Order> done = AwaitFinal({id}, absl::Seconds(30));
  EXPECT_EQ(done[0].status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(Balance(), balance - 1999);
}

TEST_F(ResilienceTest,
       HungShippingIsCutAtTheStepDeadlineAndLeavesNoThreadBlocked) {
  const int64_t balance = Balance();
  // Shipping answers after ten minutes.
  InjectChaos(Service::kShipping,
              "/sagaworks.v1.ShippingService/CreateShipment", 0.0, 600000);
  const absl::Time start = absl::Now();
  const std::string id = Order("widget", 1);
  std::vector<v1::Order> done = AwaitFinal({id}, absl::Seconds(60));
  EXPECT_EQ(done[0].status(), v1::ORDER_STATUS_REJECTED);
  EXPECT_NE(done[0].failure_reason().find("create_shipment"), std::string::npos)
      << done[0].failure_reason();
  // The step deadline is 3 s; compensating takes a moment more, not minutes.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  std::cout << "hung shipping: order rejected after "
            << absl::FormatDuration(absl::Now() - start) << "\n";
  EXPECT_EQ(Balance(), balance);

  // The handlers stuck in the injected latency noticed their callers gave up.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int in_flight = -1;
  while (absl::Now() < deadline) {
    in_flight = Status(Service::kShipping).guard().in_flight();
    if (in_flight == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(in_flight, 0);
}

TEST_F(ResilienceTest, ChaosRulesAreValidated) {
  auto chaos = v1::ChaosService::NewStub(ChannelTo(Service::kPayment));
  grpc::ClientContext c;
  Deadline(&c);
  v1::SetChaosRequest r;
  r.mutable_rule()->set_failure_rate(1.5);
  v1::ChaosState state;
  grpc::Status s = chaos->SetChaos(&c, r, &state);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("failure_rate"), std::string::npos);
}

// A step's deadline bounds the step, not the wait before it: with one saga
// driven at a time and a slow inventory, new sagas queue for longer than
// the step timeout, and still each gets its full step time once it runs.
class QueuedSagaTest : public ResilienceTest {
 protected:
  static void SetUpTestSuite() {
    StartPlatform({{Name(Service::kOrchestrator),
                    {"--step-timeout-seconds=1", "--max-in-flight=1"}}});
  }
};

TEST_F(QueuedSagaTest, SagasWaitingForTheirTurnKeepTheirWholeStepTime) {
  InjectChaos(Service::kInventory,
              "/sagaworks.v1.InventoryService/ReserveStock", 0, 300);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Order("widget", 1));
  // The last saga's first call goes out some 1.5 s after it was stored.
  for (const v1::Order& order : AwaitFinal(ids, absl::Seconds(30))) {
    EXPECT_EQ(order.status(), v1::ORDER_STATUS_APPROVED)
        << order.order_id() << ": " << order.failure_reason();
  }
}

// More sagas in flight than a downstream's bulkhead has slots: a call waits
// for a slot (holding no thread) instead of failing its attempt and
// sleeping out a backoff.
class BulkheadWaitTest : public ResilienceTest {
 protected:
  static void SetUpTestSuite() {
    const std::string config = ::testing::TempDir() + "one-slot.json";
    std::ofstream(config) << R"({"downstreams": {")"
                          << Name(Service::kInventory)
                          << R"(": {"bulkhead": {"max_concurrent": 1}}}})";
    StartPlatform({{Name(Service::kOrchestrator),
                    {"--max-in-flight=4",
                     absl::StrCat("--resilience-config=", config)}}});
  }
};

TEST_F(BulkheadWaitTest, CallsWaitForASlotRatherThanFail) {
  InjectChaos(Service::kInventory,
              "/sagaworks.v1.InventoryService/ReserveStock", 0, 300);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Order("widget", 1));
  for (const v1::Order& order : AwaitFinal(ids, absl::Seconds(30))) {
    EXPECT_EQ(order.status(), v1::ORDER_STATUS_APPROVED)
        << order.order_id() << ": " << order.failure_reason();
  }
  const v1::DownstreamStatus inventory = OrchestratorView(Service::kInventory);
  EXPECT_EQ(inventory.bulkhead_rejections(), 0);
  EXPECT_EQ(inventory.retries(), 0);
}

// The order service asks payment about the customer on every order
// (--catalog-cache-seconds=0); a saga's step waits up to 30 s for a
// participant to come back.
class StaleCatalogTest : public ResilienceTest {
 protected:
  static void SetUpTestSuite() {
    StartPlatform(
        {{Name(Service::kOrder), {"--catalog-cache-seconds=0"}},
         {Name(Service::kOrchestrator), {"--step-timeout-seconds=30"}}});
  }
};

// Payment killed: an order for a customer it confirmed earlier is still
// accepted (the stale window's fallback) and approved once payment is
// back; a customer it never confirmed is refused with UNAVAILABLE.
TEST_F(StaleCatalogTest, AConfirmedCustomerStillOrdersWhilePaymentIsDown) {
  const std::string before = Order("widget", 1);
  ASSERT_EQ(AwaitFinal({before}, absl::Seconds(30))[0].status(),
            v1::ORDER_STATUS_APPROVED);
  sagactl::Platform& p = platform().platform();
  const platform::ServiceInfo& payment = platform::Info(Service::kPayment);
  ASSERT_TRUE(p.StopService(payment, /*hard=*/true).ok());
  absl::Cleanup restart = [&] {
    (void)p.StartService(payment);
    (void)p.WaitServing({&payment});
  };

  const std::string during = Order("widget", 1);
  ASSERT_FALSE(during.empty());

  v1::CreateOrderRequest r;
  r.set_customer_id("bob");
  v1::OrderItem* item = r.add_items();
  item->set_sku("widget");
  item->set_quantity(1);
  *r.mutable_shipping_address() = testing::DemoAddress();
  grpc::ClientContext c;
  Deadline(&c);
  c.AddMetadata("idempotency-key", absl::StrCat("resilience-test-", ++keys_));
  v1::Order refused;
  grpc::Status s = Orders("bob")->CreateOrder(&c, r, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("cannot confirm customer 'bob'"),
            std::string::npos)
      << s.error_message();

  absl::StatusOr<std::string> page =
      p.MetricsPage(platform::Info(Service::kOrder));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_GE(
      metrics::SampleValue(
          *page, R"(sagaworks_catalog_stale_answers_total{what="customer"})")
          .value_or(0),
      1);

  std::move(restart).Invoke();
  const v1::Order after = AwaitFinal({during}, absl::Seconds(60))[0];
  EXPECT_EQ(after.status(), v1::ORDER_STATUS_APPROVED)
      << after.failure_reason();
}

}  // namespace
}  // namespace sagaworks
