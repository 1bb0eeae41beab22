// End to end: kill -9 a process while 30 sagas are in flight, start it
// again, and check that every saga ends and that money and stock add up
// exactly: every APPROVED order charged once, holding its stock and a
// shipment; every REJECTED one holding nothing.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/db/pool.h"
#include "common/local/subprocess.h"
#include "common/observability/metrics.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/platform_suite.h"

namespace sagaworks {
namespace {

void Deadline(grpc::ClientContext* c) {
  c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

class CrashTest : public testing::PlatformSuite {
 protected:
  // Short leases, so a dead orchestrator's sagas pass on within seconds.
  static void SetUpTestSuite() {
    StartPlatform(
        {{Name(Service::kOrchestrator), {"--saga-lease-seconds=3"}},
         {"orchestrator-b",
          {"--saga-lease-seconds=3", "--max-backlog=4", "--max-in-flight=8"}}});
  }

  template <typename Stub>
  std::unique_ptr<typename Stub::Stub> StubFor(Service service) {
    return Stub::NewStub(ChannelTo(service));
  }

  // Slows one saga step, so sagas pile up mid-way and the kill lands while
  // they are in flight; 0 clears it.
  void SlowStep(Service service, const std::string& method,
                int64_t latency_ms) {
    grpc::Status s = latency_ms == 0 ? ClearChaos(service)
                                     : SetChaos(service, method, 0, latency_ms);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::Stock Widgets() { return Stock("widget"); }

  // Places `n` orders of one widget; alice's may succeed, bob's cannot pay,
  // and with `undeliverable` every seventh goes to ZZ (charged, then
  // refunded).
  std::vector<std::string> PlaceOrders(int n, bool undeliverable = false) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      v1::CreateOrderRequest r;
      r.set_customer_id(i % 5 == 4 ? "bob" : "alice");
      v1::OrderItem* item = r.add_items();
      item->set_sku("widget");
      item->set_quantity(1);
      *r.mutable_shipping_address() =
          testing::DemoAddress(undeliverable && i % 7 == 6 ? "ZZ" : "DE");
      grpc::ClientContext c;
      Deadline(&c);
      c.AddMetadata("idempotency-key", absl::StrCat("crash-", ++keys_));
      v1::Order order;
      grpc::Status s = Orders(r.customer_id())->CreateOrder(&c, r, &order);
      EXPECT_TRUE(s.ok()) << s.error_message();
      ids.push_back(order.order_id());
    }
    return ids;
  }

  int CountPending(const std::vector<std::string>& ids) {
    auto orders = StubFor<v1::OrderService>(Service::kOrder);
    int pending = 0;
    for (const std::string& id : ids) {
      grpc::ClientContext c;
      Deadline(&c);
      v1::GetOrderRequest r;
      r.set_order_id(id);
      v1::Order o;
      if (orders->GetOrder(&c, r, &o).ok() &&
          o.status() == v1::ORDER_STATUS_PENDING) {
        ++pending;
      }
    }
    return pending;
  }

  // Waits until no order is PENDING (at most `limit`); returns them all.
  std::vector<v1::Order> AwaitAllFinal(const std::vector<std::string>& ids,
                                       absl::Duration limit) {
    auto orders = StubFor<v1::OrderService>(Service::kOrder);
    const absl::Time deadline = absl::Now() + limit;
    std::vector<v1::Order> out(ids.size());
    while (true) {
      int pending = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (out[i].status() != v1::ORDER_STATUS_UNSPECIFIED &&
            out[i].status() != v1::ORDER_STATUS_PENDING) {
          continue;
        }
        grpc::ClientContext c;
        Deadline(&c);
        v1::GetOrderRequest r;
        r.set_order_id(ids[i]);
        if (!orders->GetOrder(&c, r, &out[i]).ok() ||
            out[i].status() == v1::ORDER_STATUS_PENDING) {
          ++pending;
        }
      }
      if (pending == 0) return out;
      if (absl::Now() > deadline) {
        ADD_FAILURE() << pending << " orders still pending after "
                      << absl::FormatDuration(limit);
        return out;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // The invariants: money and stock match the approved orders exactly.
  void CheckInvariants(const std::vector<v1::Order>& orders, int64_t alice,
                       int64_t bob, const v1::Stock& widgets) {
    auto shipping = StubFor<v1::ShippingService>(Service::kShipping);
    int approved = 0;
    for (const v1::Order& o : orders) {
      ASSERT_TRUE(o.status() == v1::ORDER_STATUS_APPROVED ||
                  o.status() == v1::ORDER_STATUS_REJECTED)
          << o.ShortDebugString();
      grpc::ClientContext c;
      Deadline(&c);
      v1::GetShipmentRequest r;
      r.set_order_id(o.order_id());
      v1::Shipment shipment;
      grpc::Status s = shipping->GetShipment(&c, r, &shipment);
      if (o.status() == v1::ORDER_STATUS_APPROVED) {
        ++approved;
        EXPECT_EQ(o.customer_id(), "alice");
        EXPECT_TRUE(s.ok() && shipment.status() == v1::SHIPMENT_STATUS_CREATED)
            << "approved order " << o.order_id() << " has no live shipment";
      } else {
        EXPECT_FALSE(s.ok() && shipment.status() == v1::SHIPMENT_STATUS_CREATED)
            << "rejected order " << o.order_id() << " kept its shipment";
      }
    }
    EXPECT_EQ(Balance("alice"), alice - 1999 * approved);
    EXPECT_EQ(Balance("bob"), bob);
    const v1::Stock now = Widgets();
    EXPECT_EQ(now.available(), widgets.available() - approved);
    EXPECT_EQ(now.reserved(), widgets.reserved() + approved);
    std::cout << approved << " of " << orders.size()
              << " orders approved; money and stock match\n";
  }

  void KillMidSagaAndRestart(Service victim, Service slow_service,
                             const std::string& slow_method) {
    const int64_t alice = Balance("alice"), bob = Balance("bob");
    const v1::Stock widgets = Widgets();
    SlowStep(slow_service, slow_method, 1000);
    std::vector<std::string> ids = PlaceOrders(30);
    // The test means something only if sagas are mid-way when the kill lands.
    const int in_flight = CountPending(ids);
    EXPECT_GE(in_flight, 20);
    const auto& spec = platform::Info(victim);
    ASSERT_TRUE(platform().platform().StopService(spec, /*hard=*/true).ok());
    ASSERT_TRUE(platform().platform().StartService(spec).ok());
    ASSERT_TRUE(platform().platform().WaitServing({&spec}).ok());
    if (slow_service != victim) SlowStep(slow_service, "", 0);
    const absl::Time restarted = absl::Now();
    std::vector<v1::Order> done = AwaitAllFinal(ids, absl::Seconds(30));
    std::cout << spec.binary << " killed with " << in_flight
              << " of 30 sagas in flight: all final "
              << absl::FormatDuration(absl::Now() - restarted)
              << " after the restart\n";
    CheckInvariants(done, alice, bob, widgets);
  }

  static inline std::atomic<int> keys_{0};
};

TEST_F(CrashTest, OrchestratorKilledMidSagaFinishesEverySagaAfterRestart) {
  KillMidSagaAndRestart(Service::kOrchestrator, Service::kInventory,
                        "/sagaworks.v1.InventoryService/ReserveStock");
}

TEST_F(CrashTest, PaymentKilledMidSagaLosesAndDoublesNothing) {
  // Charges are held in payment when it dies (its rule dies with it).
  KillMidSagaAndRestart(Service::kPayment, Service::kPayment,
                        "/sagaworks.v1.PaymentService/Charge");
}

TEST_F(CrashTest, OrderServiceKilledAfterAcceptingOrdersStillStartsTheirSagas) {
  KillMidSagaAndRestart(Service::kOrder, Service::kInventory,
                        "/sagaworks.v1.InventoryService/ReserveStock");
}

// Two orchestrators share the database; the one holding the sagas dies and
// is not restarted. The other claims them once their leases lapse and
// finishes every one.
TEST_F(CrashTest, SecondOrchestratorTakesOverTheSagasOfADeadOne) {
  platform::ServiceInfo second = platform::Info(Service::kOrchestrator);
  second.name = "orchestrator-b";
  absl::StatusOr<int> port = local::FreePort();
  ASSERT_TRUE(port.ok());
  second.port = *port;
  port = local::FreePort();
  ASSERT_TRUE(port.ok());
  second.http_port = *port;
  const platform::ServiceInfo& first = platform::Info(Service::kOrchestrator);
  ASSERT_TRUE(platform().platform().StartService(second).ok());
  ASSERT_TRUE(platform().platform().WaitServing({&second}).ok());
  // Whatever happens below, later tests get the usual single orchestrator.
  absl::Cleanup restore = [&] {
    (void)platform().platform().StopService(second, /*hard=*/false);
    (void)platform().platform().StartService(first);
    (void)platform().platform().WaitServing({&first});
  };
  // Instance ids end in the listen port.
  const std::string second_id = absl::StrCat(":", second.port);

  const int64_t alice = Balance("alice"), bob = Balance("bob");
  const v1::Stock widgets = Widgets();
  SlowStep(Service::kInventory, "/sagaworks.v1.InventoryService/ReserveStock",
           1000);
  std::vector<std::string> ids = PlaceOrders(30);

  std::unique_ptr<db::Pool> pool = Database(Service::kOrchestrator);
  ASSERT_NE(pool, nullptr);
  std::string id_list;
  for (const std::string& id : ids) {
    absl::StrAppend(&id_list, id_list.empty() ? "{" : ",", id);
  }
  id_list += "}";
  // How many of this test's sagas exist, or (given an owner suffix) are
  // leased to that orchestrator; with `unfinished`, only those still
  // running or compensating.
  auto count = [&](const std::string& owner_suffix, bool unfinished = false) {
    auto n = pool->TransactOr<int64_t>(
        "count", [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
          return tx
              .exec_params(
                  "SELECT count(*) FROM saga_instances "
                  "WHERE order_id = ANY($1::uuid[]) "
                  "AND ($2 = '' OR lease_owner LIKE '%' || $2) "
                  "AND (NOT $3 OR status IN ('running', 'compensating'))",
                  id_list, owner_suffix, unfinished)[0][0]
              .as<int64_t>();
        });
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  };
  // Every saga exists (the order service hands them all to the first
  // orchestrator) and none is the second's before the kill.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (count("") < 30) {
    ASSERT_LT(absl::Now(), deadline) << "sagas were not all started";
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(count(second_id), 0);
  const int in_flight = CountPending(ids);
  EXPECT_GE(in_flight, 20);

  ASSERT_TRUE(platform().platform().StopService(first, /*hard=*/true).ok());
  const absl::Time killed = absl::Now();
  // It takes them over as it has room: never more at once than the eight
  // it drives (--max-in-flight) and its --max-backlog of four lets wait.
  // Inventory stays slow meanwhile, so each saga it takes stays unfinished for
  // a second: long enough to be seen holding them.
  int64_t most_held = 0;
  while (absl::Now() < killed + absl::Seconds(30) && CountPending(ids) > 0) {
    most_held = std::max(most_held, count(second_id, /*unfinished=*/true));
    absl::SleepFor(absl::Milliseconds(20));
  }
  SlowStep(Service::kInventory, "", 0);
  EXPECT_GT(most_held, 0);
  EXPECT_LE(most_held, 8 + 4);
  std::vector<v1::Order> done = AwaitAllFinal(ids, absl::Seconds(30));
  std::cout << "first orchestrator killed with " << in_flight
            << " of 30 sagas in flight: the second finished all "
            << absl::FormatDuration(absl::Now() - killed)
            << " later, holding at most " << most_held << " at once\n";
  CheckInvariants(done, alice, bob, widgets);
  // The survivor drove the unfinished ones to the end, so the last commit of
  // each is its. Reservations finish eight at a time (one per saga in
  // flight) every second, so at most one such wave can end between the count
  // and the kill.
  const int64_t taken_over = count(second_id);
  std::cout << "the second orchestrator finished " << taken_over << " sagas\n";
  EXPECT_GE(taken_over, in_flight - 8);
}

// Random kills: each iteration places orders, kills a random process at a
// random moment while their sagas run, restarts it, and checks the
// invariants. SAGAWORKS_CHAOS_ITERATIONS (default 20) and SAGAWORKS_CHAOS_SEED
// (default: the clock; printed, to replay a failure) steer it.
TEST_F(CrashTest, RandomKillsKeepMoneyAndStockExact) {
  const char* env_iterations = std::getenv("SAGAWORKS_CHAOS_ITERATIONS");
  const char* env_seed = std::getenv("SAGAWORKS_CHAOS_SEED");
  const int iterations = env_iterations ? std::atoi(env_iterations) : 20;
  const uint64_t seed =
      env_seed ? std::strtoull(env_seed, nullptr, 10)
               : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::cout << "random kills: " << iterations << " iterations, seed " << seed
            << "\n";
  std::mt19937_64 rng(seed);
  // Enough money for alice to keep buying through a long run: with her demo
  // balance every order after the 500th would be refused, and the run would
  // stop exercising approvals.
  {
    std::unique_ptr<db::Pool> pool = Database(Service::kPayment);
    ASSERT_NE(pool, nullptr);
    ASSERT_TRUE(pool->Transact("top_up",
                               [](pqxx::work& tx) {
                                 tx.exec(
                                     "UPDATE accounts SET balance_cents = "
                                     "1000000000000 WHERE customer_id = "
                                     "'alice'");
                                 return absl::OkStatus();
                               })
                    .ok());
  }
  const std::vector<platform::ServiceInfo>& victims = platform::Services();
  int approved_total = 0, orders_total = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < iterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i, ", seed ", seed));
    const platform::ServiceInfo& victim = victims[rng() % victims.size()];
    const int64_t alice = Balance("alice"), bob = Balance("bob");
    const v1::Stock widgets = Widgets();
    // Spread the sagas over time, on a step of a process that survives.
    const bool slow_inventory = victim.id != Service::kInventory;
    const Service slow =
        slow_inventory ? Service::kInventory : Service::kShipping;
    SlowStep(slow,
             slow_inventory ? "/sagaworks.v1.InventoryService/ReserveStock"
                            : "/sagaworks.v1.ShippingService/CreateShipment",
             50 + static_cast<int64_t>(rng() % 200));
    std::vector<std::string> ids = PlaceOrders(10, /*undeliverable=*/true);
    // The kill lands at a random point of the sagas' run.
    absl::SleepFor(absl::Milliseconds(rng() % 400));
    ASSERT_TRUE(platform().platform().StopService(victim, /*hard=*/true).ok());
    ASSERT_TRUE(platform().platform().StartService(victim).ok());
    ASSERT_TRUE(platform().platform().WaitServing({&victim}).ok());
    SlowStep(slow, "", 0);
    std::vector<v1::Order> done = AwaitAllFinal(ids, absl::Seconds(60));
    CheckInvariants(done, alice, bob, widgets);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
    for (const v1::Order& o : done) {
      approved_total += o.status() == v1::ORDER_STATUS_APPROVED ? 1 : 0;
    }
    orders_total += static_cast<int>(done.size());
  }
  std::cout << "random kills: " << iterations << " iterations, " << orders_total
            << " orders (" << approved_total
            << " approved), all invariants held, "
            << absl::FormatDuration(absl::Now() - start) << "\n";
}

// An orchestrator that cannot keep up: one saga driven at a time, a slow
// first step, and room for one waiting saga.
class BacklogTest : public CrashTest {
 protected:
  static void SetUpTestSuite() {
    StartPlatform({{Name(Service::kOrchestrator),
                    {"--max-in-flight=1", "--max-backlog=1"}}});
  }

  // The orchestrator's count of StartSaga calls it refused.
  static double StartsRefused() {
    absl::StatusOr<std::string> page = platform().platform().MetricsPage(
        platform::Info(Service::kOrchestrator));
    if (!page.ok()) return -1;
    // Absent until the first refusal.
    return metrics::SampleValue(*page, "sagaworks_saga_starts_refused_total")
        .value_or(0);
  }
};

// A full backlog refuses new sagas (RESOURCE_EXHAUSTED, before writing
// anything); the order service keeps their orders and tries again, so every
// order still gets exactly one saga, and money and stock match.
TEST_F(BacklogTest, AFullBacklogDefersNewSagasAndLosesNone) {
  const int64_t alice = Balance("alice"), bob = Balance("bob");
  const v1::Stock widgets = Widgets();
  // Each saga holds the one place for a second and a half (under the 2 s
  // attempt timeout), so the third order arrives long before the first saga
  // ends, even on a loaded machine. The orders go at once, so their
  // StartSaga calls may arrive together too (the relay sends a batch in
  // parallel): each must find the room the others took.
  SlowStep(Service::kInventory, "/sagaworks.v1.InventoryService/ReserveStock",
           1500);
  std::vector<std::string> ids(6);
  {
    std::vector<std::thread> callers;
    for (std::string& id : ids) {
      callers.emplace_back([this, &id] { id = PlaceOrders(1)[0]; });
    }
    for (std::thread& t : callers) t.join();
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  double refused = 0;
  while ((refused = StartsRefused()) <= 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (refused <= 0) {
    // What the orchestrator saw, to tell a slow machine from a bug.
    const std::string page =
        platform()
            .platform()
            .MetricsPage(platform::Info(Service::kOrchestrator))
            .value_or("");
    ADD_FAILURE()
        << "the backlog never filled: "
        << metrics::SampleValue(page, "sagaworks_sagas_started_total")
               .value_or(-1)
        << " sagas started, backlog last "
        << metrics::SampleValue(page, "sagaworks_saga_backlog").value_or(-1);
  }
  // Meanwhile one saga is driven at a time (--max-in-flight=1), as the
  // orchestrator's gauge says each time it is set (every second).
  double most_in_flight = 0;
  bool saw_one = false;
  const absl::Time look_until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < look_until && !saw_one) {
    const std::string page =
        platform()
            .platform()
            .MetricsPage(platform::Info(Service::kOrchestrator))
            .value_or("");
    const double n =
        metrics::SampleValue(page, "sagaworks_sagas_in_flight").value_or(0);
    most_in_flight = std::max(most_in_flight, n);
    saw_one = saw_one || n == 1;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(saw_one) << "no saga was seen in flight";
  EXPECT_LE(most_in_flight, 1);
  SlowStep(Service::kInventory, "", 0);
  std::vector<v1::Order> done = AwaitAllFinal(ids, absl::Seconds(60));
  CheckInvariants(done, alice, bob, widgets);
  // The refusals carry a pushback: the relay waits it out and retries, and
  // they do not open its breaker, which would hold back every order for
  // its whole open wait once there is room again.
  const std::string order_page =
      platform()
          .platform()
          .MetricsPage(platform::Info(Service::kOrder))
          .value_or("");
  EXPECT_EQ(metrics::SampleValue(order_page,
                                 "sagaworks_circuit_breaker_rejections_total{"
                                 "downstream=\"orchestrator\"}")
                .value_or(0),
            0)
      << order_page;
  std::cout << refused << " StartSaga calls refused at first\n";
}

}  // namespace
}  // namespace sagaworks
