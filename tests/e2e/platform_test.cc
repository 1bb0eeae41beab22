// End to end: the five real binaries on free ports, a real PostgreSQL, the
// demo data, and the four demo orders placed through the order service.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/db/migrate.h"
#include "common/db/pool.h"
#include "common/enum_names.h"
#include "common/files.h"
#include "common/local/subprocess.h"
#include "common/security/certificates.h"
#include "common/security/tls.h"
#include "common/security/token.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "migrations/embedded.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/leftovers.h"
#include "tests/testing/orders.h"
#include "tests/testing/platform_suite.h"
#include "tools/sagactl/commands.h"

namespace sagaworks {
namespace {

// TableOwner is the role that owns table `table` ("" when unreadable).
std::string TableOwner(db::Pool& pool, const std::string& table) {
  absl::StatusOr<std::string> owner = pool.TransactOr<std::string>(
      "owner", [&](pqxx::work& tx) -> absl::StatusOr<std::string> {
        return tx
            .exec_params1(
                "SELECT tableowner FROM pg_tables WHERE tablename = $1",
                table)[0]
            .as<std::string>();
      });
  EXPECT_TRUE(owner.ok()) << owner.status();
  return owner.value_or("");
}

bool Listening(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

class PlatformTest : public testing::PlatformSuite {
 protected:
  void SetUp() override {
    PlatformSuite::SetUp();
    if (IsSkipped()) return;
    orders_ = v1::OrderService::NewStub(ChannelTo(Service::kOrder));
    payment_ = v1::PaymentService::NewStub(ChannelTo(Service::kPayment));
    inventory_ = v1::InventoryService::NewStub(ChannelTo(Service::kInventory));
    shipping_ = v1::ShippingService::NewStub(ChannelTo(Service::kShipping));
    sagas_ = v1::SagaOrchestrator::NewStub(ChannelTo(Service::kOrchestrator));
  }

  static void Deadline(grpc::ClientContext* c) {
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }

  grpc::Status Create(const std::string& customer, const std::string& sku,
                      int qty, const std::string& country, v1::Order* out) {
    v1::CreateOrderRequest r;
    r.set_customer_id(customer);
    v1::OrderItem* item = r.add_items();
    item->set_sku(sku);
    item->set_quantity(qty);
    *r.mutable_shipping_address() = testing::DemoAddress(country);
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", absl::StrCat("platform-test-", ++keys_));
    return Orders(customer.empty() ? "nobody" : customer)
        ->CreateOrder(&c, r, out);
  }

  // Polls GetOrder until the order leaves PENDING, for at most 30 s.
  v1::Order AwaitFinal(const std::string& order_id) {
    return testing::AwaitOrderFinal(*orders_, order_id);
  }
  // After an operator's action: until the order is no longer on hold.
  v1::Order AwaitReleased(const std::string& order_id) {
    return testing::AwaitOrderLeaves(*orders_, order_id,
                                     v1::ORDER_STATUS_NEEDS_ATTENTION);
  }

  grpc::Status Cancel(const std::string& order_id, v1::Order* out,
                      const std::string& key_suffix = "") {
    return CancelWithKey(order_id,
                         absl::StrCat("cancel-", order_id, key_suffix), out);
  }
  // CancelWithKey cancels as the order's customer.
  grpc::Status CancelWithKey(const std::string& order_id,
                             const std::string& key, v1::Order* out) {
    return CancelAs(OwnerOf(order_id), order_id, key, out);
  }
  grpc::Status CancelAs(const std::string& customer,
                        const std::string& order_id, const std::string& key,
                        v1::Order* out) {
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", key);
    v1::CancelOrderRequest r;
    r.set_order_id(order_id);
    r.set_reason("customer asked");
    return Orders(customer)->CancelOrder(&c, r, out);
  }

  // OwnerOf is the customer of an order, as an operator reads it ("" when
  // it cannot be read).
  std::string OwnerOf(const std::string& order_id) {
    grpc::ClientContext c;
    Deadline(&c);
    v1::GetOrderRequest r;
    r.set_order_id(order_id);
    v1::Order order;
    return orders_->GetOrder(&c, r, &order).ok() ? order.customer_id()
                                                 : "nobody";
  }

  // Polls GetOrder until the order has `status`, for at most 30 s.
  v1::Order AwaitStatus(const std::string& order_id, v1::OrderStatus status) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    v1::Order order;
    while (absl::Now() < deadline) {
      grpc::ClientContext c;
      Deadline(&c);
      v1::GetOrderRequest r;
      r.set_order_id(order_id);
      if (orders_->GetOrder(&c, r, &order).ok() && order.status() == status) {
        return order;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return order;
  }

  int CountOrders() {
    grpc::ClientContext c;
    Deadline(&c);
    v1::ListOrdersRequest r;
    r.set_page_size(500);
    v1::ListOrdersResponse resp;
    EXPECT_TRUE(orders_->ListOrders(&c, r, &resp).ok());
    return resp.orders_size();
  }

  // `sagactl sagas retry|resolve ...` as operator `ann`: its output, and
  // whether it succeeded.
  static std::pair<bool, std::string> Operate(std::vector<std::string> args) {
    std::vector<std::string> argv = SagactlArgs();
    argv.insert(argv.end(),
                {"--orchestrator", platform().Address(Service::kOrchestrator),
                 "sagas"});
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--operator", "ann"});
    std::string out;
    const bool ok = local::Run(argv, &out).ok();
    return {ok, out};
  }

  // The order's saga once it has ended (polled: the last commit follows the
  // order's last change).
  v1::Saga EndedSagaOf(const std::string& order_id) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    v1::Saga saga = SagaOf(order_id);
    while ((saga.status() == v1::SAGA_STATUS_RUNNING ||
            saga.status() == v1::SAGA_STATUS_COMPENSATING) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      saga = SagaOf(order_id);
    }
    return saga;
  }
  v1::Saga SagaOf(const std::string& order_id) {
    grpc::ClientContext c;
    Deadline(&c);
    v1::GetSagaRequest r;
    r.set_order_id(order_id);
    v1::Saga saga;
    EXPECT_TRUE(sagas_->GetSaga(&c, r, &saga).ok());
    return saga;
  }

  static std::string Sagactl() {
    return absl::StrCat(SAGAWORKS_BIN_DIR, "/sagactl");
  }

  // SagactlArgs starts a sagactl command line for the test's platform (its
  // home, so its certificates).
  static std::vector<std::string> SagactlArgs() {
    return {Sagactl(), "--home", platform().home()};
  }

  // Secured is `binary` with the flags of the test platform's certificate
  // for workload `name`, then `args`.
  static std::vector<std::string> Secured(const std::string& binary,
                                          const std::string& name,
                                          std::vector<std::string> args) {
    const security::TlsConfig tls = platform().platform().TlsFor(name);
    std::vector<std::string> argv = {
        absl::StrCat(SAGAWORKS_BIN_DIR, "/", binary),
        absl::StrCat("--tls-cert=", tls.cert_file),
        absl::StrCat("--tls-key=", tls.key_file),
        absl::StrCat("--tls-ca=", tls.ca_file)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Load runs `sagactl load` against the order service; its report.
  static std::string Load(std::vector<std::string> args) {
    std::vector<std::string> argv = SagactlArgs();
    for (const std::string& a :
         {std::string("--order"), platform().Address(Service::kOrder),
          std::string("load")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    absl::Status s = local::Run(argv, &out);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    return out;
  }

  // ExpectAllApproved runs `sagactl load`, which must place `n` orders for
  // alice and see every one approved.
  static void ExpectAllApproved(int n, std::vector<std::string> args) {
    const std::string out = Load(std::move(args));
    EXPECT_NE(out.find(absl::StrCat(n, " orders accepted, 0 refused")),
              std::string::npos)
        << out;
    EXPECT_NE(
        out.find(absl::StrCat(n, " ended: ", n, " approved; 0 still pending")),
        std::string::npos)
        << out;
  }

  // One sequence for the whole run: a key used by an earlier test would be
  // replayed (or refused as reused), not executed.
  static inline int keys_ = 0;
  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::PaymentService::Stub> payment_;
  std::unique_ptr<v1::InventoryService::Stub> inventory_;
  std::unique_ptr<v1::ShippingService::Stub> shipping_;
  std::unique_ptr<v1::SagaOrchestrator::Stub> sagas_;
};

TEST_F(PlatformTest, AliceBuysTwoWidgetsForExactly3998Cents) {
  const int64_t balance = Balance("alice");
  const v1::Stock widget = Stock("widget");

  v1::Order order;
  ASSERT_TRUE(Create("alice", "widget", 2, "DE", &order).ok());
  EXPECT_EQ(order.status(), v1::ORDER_STATUS_PENDING);  // answered at once

  // WatchOrder streams the change to APPROVED, then ends.
  grpc::ClientContext watch;
  Deadline(&watch);
  v1::WatchOrderRequest w;
  w.set_order_id(order.order_id());
  auto stream = orders_->WatchOrder(&watch, w);
  v1::Order seen;
  v1::OrderStatus last = v1::ORDER_STATUS_UNSPECIFIED;
  while (stream->Read(&seen)) last = seen.status();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(last, v1::ORDER_STATUS_APPROVED);

  v1::Order done = AwaitFinal(order.order_id());
  EXPECT_EQ(done.status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(done.total_cents(), 3998);
  EXPECT_FALSE(done.saga_id().empty());
  EXPECT_EQ(Balance("alice"), balance - 3998);
  EXPECT_EQ(Stock("widget").available(), widget.available() - 2);
  EXPECT_EQ(Stock("widget").reserved(), widget.reserved() + 2);

  grpc::ClientContext c;
  Deadline(&c);
  v1::GetShipmentRequest sr;
  sr.set_order_id(order.order_id());
  v1::Shipment shipment;
  ASSERT_TRUE(shipping_->GetShipment(&c, sr, &shipment).ok());
  EXPECT_EQ(shipment.status(), v1::SHIPMENT_STATUS_CREATED);

  v1::Saga saga = SagaOf(order.order_id());
  EXPECT_EQ(saga.status(), v1::SAGA_STATUS_COMPLETED);
  EXPECT_EQ(saga.saga_id(), done.saga_id());

  // The relay records the delivery shortly after (with others, at most
  // 100 ms late): the order's outbox entry goes.
  std::unique_ptr<db::Pool> pool = Database(Service::kOrder);
  ASSERT_NE(pool, nullptr);
  auto in_outbox = [&] {
    auto n = pool->TransactOr<int64_t>(
        "count", [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
          return tx
              .exec_params("SELECT count(*) FROM outbox WHERE order_id = $1",
                           order.order_id())[0][0]
              .as<int64_t>();
        });
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (in_outbox() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(in_outbox(), 0);
  EXPECT_EQ(AwaitFinal(order.order_id()).SerializeAsString(),
            done.SerializeAsString());
}

TEST_F(PlatformTest, DemoFailuresAreRejectedAndLeaveEverythingAsItWas) {
  const int64_t alice = Balance("alice"), bob = Balance("bob");
  const v1::Stock widget = Stock("widget"), gizmo = Stock("gizmo");

  struct Case {
    std::string customer, sku, country, reason, compensations;
  };
  const std::vector<Case> cases = {
      {"bob", "widget", "DE", "insufficient funds", "release_stock"},
      {"alice", "gizmo", "DE", "out of stock", ""},
      {"alice", "widget", "ZZ", "undeliverable",
       "refund_payment,release_stock"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.reason);
    v1::Order order;
    grpc::Status s = Create(tc.customer, tc.sku, 1, tc.country, &order);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::Order done = AwaitFinal(order.order_id());
    EXPECT_EQ(done.status(), v1::ORDER_STATUS_REJECTED);
    EXPECT_NE(done.failure_reason().find(tc.reason), std::string::npos)
        << done.failure_reason();

    // The saga undid exactly the steps that had happened, newest first.
    v1::Saga saga = SagaOf(order.order_id());
    EXPECT_EQ(saga.status(), v1::SAGA_STATUS_COMPENSATED);
    std::string undone;
    for (const auto& e : saga.steps()) {
      if (e.kind() == v1::STEP_KIND_COMPENSATION &&
          e.outcome() == v1::STEP_OUTCOME_SUCCEEDED &&
          e.name() != "reject_order") {
        absl::StrAppend(&undone, undone.empty() ? "" : ",", e.name());
      }
    }
    EXPECT_EQ(undone, tc.compensations);

    // The operator's view of the same saga, through sagactl.
    std::string shown;
    std::vector<std::string> argv = SagactlArgs();
    for (const std::string& a :
         {std::string("--orchestrator"),
          platform().Address(Service::kOrchestrator), std::string("sagas"),
          std::string("show"), order.order_id()}) {
      argv.push_back(a);
    }
    absl::Status ran = local::Run(argv, &shown);
    ASSERT_TRUE(ran.ok()) << ran;
    EXPECT_NE(shown.find("status  compensated"), std::string::npos) << shown;
    size_t at = 0;
    for (absl::string_view call :
         absl::StrSplit(tc.compensations, ',', absl::SkipEmpty())) {
      at = shown.find(absl::StrCat("compensation  ", call), at);
      EXPECT_NE(at, std::string::npos) << call << " missing or out of order:\n"
                                       << shown;
    }
  }
  EXPECT_EQ(Balance("alice"), alice);
  EXPECT_EQ(Balance("bob"), bob);
  EXPECT_EQ(Stock("widget").available(), widget.available());
  EXPECT_EQ(Stock("widget").reserved(), widget.reserved());
  EXPECT_EQ(Stock("gizmo").available(), gizmo.available());
}

TEST_F(PlatformTest, BadOrdersAreRefusedWithAReasonAndCreateNothing) {
  const int before = CountOrders();
  v1::Order order;
  grpc::Status negative = Create("alice", "widget", -1, "DE", &order);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(negative.error_message().find("quantity"), std::string::npos);

  grpc::Status unknown_sku = Create("alice", "doohickey", 1, "DE", &order);
  EXPECT_EQ(unknown_sku.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown_sku.error_message().find("doohickey"), std::string::npos);

  grpc::Status empty_customer = Create("", "widget", 1, "DE", &order);
  EXPECT_EQ(empty_customer.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(empty_customer.error_message(), "customer_id is required");

  grpc::Status unknown_customer = Create("mallory", "widget", 1, "DE", &order);
  EXPECT_EQ(unknown_customer.error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext c;
  Deadline(&c);
  v1::GetOrderRequest bad_id;
  bad_id.set_order_id("42");
  EXPECT_EQ(orders_->GetOrder(&c, bad_id, &order).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CountOrders(), before);
}

// Without certificates a service does not start, unless plaintext is asked
// for by name; a bad certificate names the flag that holds it.
TEST_F(PlatformTest, AServiceNeedsItsCertificateOrAnExplicitInsecure) {
  const std::string bin = absl::StrCat(
      SAGAWORKS_BIN_DIR, "/", platform::Info(Service::kPayment).binary);
  std::string out;
  EXPECT_FALSE(local::Run({bin}, &out).ok());
  EXPECT_NE(out.find("--tls-cert, --tls-key and --tls-ca are required"),
            std::string::npos)
      << out;
  const security::TlsConfig payment =
      platform().platform().TlsFor(Name(Service::kPayment));
  const security::TlsConfig order =
      platform().platform().TlsFor(Name(Service::kOrder));
  EXPECT_FALSE(
      local::Run({bin, "--tls-cert=" + payment.cert_file,
                  "--tls-key=" + order.key_file, "--tls-ca=" + payment.ca_file},
                 &out)
          .ok());
  EXPECT_NE(out.find("--tls-key"), std::string::npos) << out;
  EXPECT_FALSE(local::Run({bin, "--tls-cert=/nonexistent.crt",
                           "--tls-key=" + payment.key_file,
                           "--tls-ca=" + payment.ca_file},
                          &out)
                   .ok());
  EXPECT_NE(out.find("--tls-cert '/nonexistent.crt' cannot be read"),
            std::string::npos)
      << out;
  // --insecure passes this check (and the process goes on to the next
  // setting it is given, here a bad pool size).
  EXPECT_FALSE(local::Run({bin, "--insecure", "--db-pool-size=0"}, &out).ok());
  EXPECT_NE(out.find("--db-pool-size"), std::string::npos) << out;
}

// The platform's ports speak TLS only: a plaintext client gets nothing, nor
// does a client whose certificate another CA issued; a client that checks
// the server against the platform CA without a certificate of its own (a
// customer's grpcurl) connects, and is asked for a token; a peer's
// certificate names it.
TEST_F(PlatformTest, PortsRefusePlaintextAndCertificatesOfAnotherCa) {
  auto get_order = [](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto stub = v1::OrderService::NewStub(grpc::CreateChannel(
        platform().Address(Service::kOrder), std::move(credentials)));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::GetOrderRequest r;
    r.set_order_id("00000000-0000-0000-0000-000000000000");
    v1::Order order;
    return stub->GetOrder(&c, r, &order).error_code();
  };
  EXPECT_EQ(get_order(grpc::InsecureChannelCredentials()),
            grpc::StatusCode::UNAVAILABLE);

  const security::TlsConfig sagactl =
      platform().platform().TlsFor(sagactl::kSagactlIdentity);
  grpc::SslCredentialsOptions ca_only;
  std::ifstream ca_in(sagactl.ca_file);
  ca_only.pem_root_certs.assign(std::istreambuf_iterator<char>(ca_in), {});
  EXPECT_EQ(get_order(grpc::SslCredentials(ca_only)),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(get_order(security::ChannelCredentials(sagactl)),
            grpc::StatusCode::NOT_FOUND);

  const absl::Time now = absl::Now();
  absl::StatusOr<security::KeyPair> other_ca = security::CreateAuthority(
      "another CA", now - absl::Hours(1), now + absl::Hours(1));
  ASSERT_TRUE(other_ca.ok()) << other_ca.status();
  absl::StatusOr<security::KeyPair> stranger =
      security::Issue(*other_ca, {"stranger",
                                  security::SpiffeId("orchestrator"),
                                  {"localhost"},
                                  {"127.0.0.1"},
                                  now - absl::Hours(1),
                                  now + absl::Hours(1)});
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  const std::string dir = platform().home();
  std::ofstream(dir + "/stranger.crt") << stranger->cert_pem;
  std::ofstream(dir + "/stranger.key") << stranger->key_pem;
  security::TlsConfig impostor{dir + "/stranger.crt", dir + "/stranger.key",
                               sagactl.ca_file};
  EXPECT_EQ(get_order(security::ChannelCredentials(impostor)),
            grpc::StatusCode::UNAVAILABLE);
}

// `sagactl token` mints what the platform's token key verifies.
TEST_F(PlatformTest, SagactlTokenMintsATokenTheLocalKeyVerifies) {
  std::vector<std::string> argv = SagactlArgs();
  for (const char* a :
       {"token", "alice", "--role", "operator", "--ttl", "5m"}) {
    argv.push_back(a);
  }
  std::string out;
  ASSERT_TRUE(local::Run(argv, &out).ok()) << out;
  std::ifstream in(platform().platform().TlsDir() + "/token.pub");
  security::TokenVerifierConfig config;
  config.public_key_pem.assign(std::istreambuf_iterator<char>(in), {});
  ASSERT_TRUE(config.Validate().ok());
  security::TokenVerifier verifier(config, RealClock::Default());
  absl::StatusOr<security::Claims> claims =
      verifier.Verify(absl::StripAsciiWhitespace(out));
  ASSERT_TRUE(claims.ok()) << claims.status() << "\n" << out;
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_TRUE(claims->IsOperator());
  EXPECT_LE(claims->expires, absl::Now() + absl::Minutes(5));
}

// Each service reaches PostgreSQL as its own role, with its password: its
// own database only, and nothing at all without the password.
TEST_F(PlatformTest, EachServiceRoleReachesItsOwnDatabaseOnly) {
  auto connect = [](const std::string& url) -> absl::Status {
    db::PoolConfig config;
    config.url = url;
    config.size = 1;
    config.connect_timeout = absl::ZeroDuration();
    return db::Pool::Create(config).status();
  };
  const local::PostgresCluster& cluster = platform().platform().cluster();
  const std::string payment =
      platform::DatabaseRole(platform::Info(Service::kPayment));
  EXPECT_TRUE(connect(cluster.ServiceUrl("payments", payment)).ok());
  absl::Status others = connect(cluster.ServiceUrl("orders", payment));
  EXPECT_FALSE(others.ok());
  EXPECT_NE(others.message().find("permission denied for database"),
            absl::string_view::npos)
      << others;
  // The superuser's password file holds no password for the role.
  std::string no_password = cluster.ServiceUrl("payments", payment);
  no_password = no_password.substr(0, no_password.find("?passfile=")) +
                cluster.Url("payments")
                    .substr(cluster.Url("payments").find("?passfile="));
  absl::Status refused = connect(no_password);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("password"), absl::string_view::npos)
      << refused;
  // What a service's migrations made is its own.
  std::unique_ptr<db::Pool> admin = Database(Service::kPayment);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(TableOwner(*admin, "accounts"), payment);
}

TEST_F(PlatformTest, BadConfigurationStopsStartUpNamingTheSetting) {
  const std::string bin = "payment-service";
  const std::string as = Name(Service::kPayment);
  std::string out;
  EXPECT_FALSE(local::Run(Secured(bin, as, {"--db-pool-size=0"}), &out).ok());
  EXPECT_NE(out.find("--db-pool-size"), std::string::npos) << out;
  EXPECT_FALSE(local::Run(Secured(bin, as, {"--listen=nowhere"}), &out).ok());
  EXPECT_NE(out.find("--listen"), std::string::npos) << out;
  EXPECT_FALSE(local::Run(Secured(bin, as, {"--no-such-flag"}), &out).ok());
  EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << out;
  // A resilience file with a typo in a downstream's name.
  const std::string config =
      absl::StrCat(platform().home(), "/resilience.json");
  std::ofstream(config) << R"({"downstreams": {"paymnt": {}}})";
  EXPECT_FALSE(
      local::Run(Secured("saga-orchestrator", Name(Service::kOrchestrator),
                         {"--resilience-config", config}),
                 &out)
          .ok());
  EXPECT_NE(out.find("downstreams.paymnt"), std::string::npos) << out;
  setenv("SAGAWORKS_DB_POOL_SIZE", "lots", 1);
  EXPECT_FALSE(local::Run(Secured(bin, as, {}), &out).ok());
  unsetenv("SAGAWORKS_DB_POOL_SIZE");
  EXPECT_NE(out.find("SAGAWORKS_DB_POOL_SIZE"), std::string::npos) << out;
  // The OpenTelemetry variables are checked too.
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger", 1);
  EXPECT_FALSE(local::Run(Secured(bin, as, {}), &out).ok());
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  EXPECT_NE(out.find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos) << out;
  setenv("OTEL_TRACES_SAMPLER", "sometimes", 1);
  EXPECT_FALSE(local::Run(Secured(bin, as, {}), &out).ok());
  unsetenv("OTEL_TRACES_SAMPLER");
  EXPECT_NE(out.find("OTEL_TRACES_SAMPLER"), std::string::npos) << out;
  EXPECT_FALSE(
      local::Run(Secured(bin, as, {"--http-listen=nowhere"}), &out).ok());
  EXPECT_NE(out.find("--http-listen"), std::string::npos) << out;
  EXPECT_FALSE(local::Run(Secured("order-service", Name(Service::kOrder),
                                  {"--catalog-cache-seconds=-1"}),
                          &out)
                   .ok());
  EXPECT_NE(out.find("--catalog-cache-seconds"), std::string::npos) << out;
}

TEST_F(PlatformTest, CancellingAnApprovedOrderUndoesEverything) {
  const int64_t balance = Balance("alice");
  const v1::Stock widget = Stock("widget");
  v1::Order order;
  ASSERT_TRUE(Create("alice", "widget", 3, "DE", &order).ok());
  ASSERT_EQ(AwaitFinal(order.order_id()).status(), v1::ORDER_STATUS_APPROVED);

  v1::Order answer;
  grpc::Status s = Cancel(order.order_id(), &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::Order done = AwaitStatus(order.order_id(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(done.status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(done.failure_reason(), "cancelled: customer asked");
  EXPECT_EQ(Balance("alice"), balance);
  EXPECT_EQ(Stock("widget").available(), widget.available());
  EXPECT_EQ(Stock("widget").reserved(), widget.reserved());
  grpc::ClientContext c;
  Deadline(&c);
  v1::GetShipmentRequest sr;
  sr.set_order_id(order.order_id());
  v1::Shipment shipment;
  ASSERT_TRUE(shipping_->GetShipment(&c, sr, &shipment).ok());
  EXPECT_EQ(shipment.status(), v1::SHIPMENT_STATUS_CANCELLED);
  // Cancelling it again is refused: it is cancelled already.
  EXPECT_EQ(Cancel(order.order_id(), &answer, "again").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// A key reused for another order is refused before anything is cancelled.
TEST_F(PlatformTest, ACancelKeyReusedForAnotherOrderCancelsNothing) {
  v1::Order first, second, answer;
  ASSERT_TRUE(Create("alice", "widget", 1, "DE", &first).ok());
  ASSERT_TRUE(Create("alice", "widget", 1, "DE", &second).ok());
  ASSERT_EQ(AwaitFinal(first.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  ASSERT_EQ(AwaitFinal(second.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  const std::string key = absl::StrCat("cancel-reused-", first.order_id());
  ASSERT_TRUE(CancelWithKey(first.order_id(), key, &answer).ok());

  grpc::Status reused = CancelWithKey(second.order_id(), key, &answer);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reused.error_message(),
            "idempotency key reused with a different request");
  // The refusal came before the saga was asked: it is still completed, and
  // the order approved.
  EXPECT_EQ(SagaOf(second.order_id()).status(), v1::SAGA_STATUS_COMPLETED);
  EXPECT_EQ(AwaitFinal(second.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  // The same key with the same request is a replay of the first answer.
  EXPECT_TRUE(CancelWithKey(first.order_id(), key, &answer).ok());
}

TEST_F(PlatformTest, CancellingARunningOrderStopsItsSaga) {
  const int64_t balance = Balance("alice");
  // Hold the saga at its first step so the cancel finds it running.
  ASSERT_TRUE(SetChaos(Service::kInventory,
                       "/sagaworks.v1.InventoryService/ReserveStock", 0, 1500)
                  .ok());
  // Cleared also when an assertion ends the test early.
  absl::Cleanup clear = [] { (void)ClearChaos(Service::kInventory); };
  v1::Order order;
  ASSERT_TRUE(Create("alice", "widget", 1, "DE", &order).ok());
  v1::Order answer;
  grpc::Status s;
  // Retried while the outbox hands the order over (UNAVAILABLE until then).
  const absl::Time until = absl::Now() + absl::Seconds(10);
  do {
    s = Cancel(order.order_id(), &answer);
  } while (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
           absl::Now() < until);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(answer.status(), v1::ORDER_STATUS_PENDING);
  v1::Order done = AwaitStatus(order.order_id(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(done.status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(Balance("alice"), balance);  // never charged, or refunded
}

// A compensation the participant refuses cannot be retried into success:
// the saga fails for an operator, and the customer sees the order on hold
// (NEEDS_ATTENTION), where their WatchOrder ends, instead of PENDING forever.
TEST_F(PlatformTest, AnUndoThatIsRefusedPutsTheOrderOnHoldForAnOperator) {
  ASSERT_TRUE(SetChaos(Service::kPayment, "/sagaworks.v1.PaymentService/Refund",
                       1.0, 0, "FAILED_PRECONDITION")
                  .ok());
  absl::Cleanup clear = [] { (void)ClearChaos(Service::kPayment); };
  const int64_t balance = Balance("alice");
  const v1::Stock widget = Stock("widget");
  v1::Order order;
  // Shipping refuses ZZ after the charge, so the charge must be refunded.
  ASSERT_TRUE(Create("alice", "widget", 1, "ZZ", &order).ok());
  grpc::ClientContext watch;
  Deadline(&watch);
  v1::WatchOrderRequest w;
  w.set_order_id(order.order_id());
  auto stream = Orders("alice")->WatchOrder(&watch, w);
  v1::Order seen;
  v1::OrderStatus last = v1::ORDER_STATUS_UNSPECIFIED;
  std::string told;
  while (stream->Read(&seen)) {
    last = seen.status();
    told = seen.failure_reason();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(last, v1::ORDER_STATUS_NEEDS_ATTENTION);
  // The customer is told a category, never the services' own words.
  EXPECT_EQ(told, "undeliverable address");
  const v1::Saga saga = SagaOf(order.order_id());
  EXPECT_EQ(saga.status(), v1::SAGA_STATUS_FAILED);
  EXPECT_NE(saga.failure_reason().find("compensation failed: refund_payment"),
            std::string::npos)
      << saga.failure_reason();
  // Nothing further was undone behind the operator's back: the charge
  // stands until someone looks.
  EXPECT_EQ(Balance("alice"), balance - 1999);
  // A customer cannot cancel their way out of it.
  v1::Order answer;
  EXPECT_EQ(Cancel(order.order_id(), &answer).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // The operator fixes what made the refund refuse, then retries it: the
  // rest is undone and the order rejected, with the action on record.
  ClearChaos(Service::kPayment);
  auto [ok, out] = Operate(
      {"retry", order.order_id(), "--note", "refund limit lifted for alice"});
  ASSERT_TRUE(ok) << out;
  EXPECT_EQ(AwaitReleased(order.order_id()).status(),
            v1::ORDER_STATUS_REJECTED);
  EXPECT_EQ(Balance("alice"), balance);
  EXPECT_EQ(Stock("widget").available(), widget.available());
  const v1::Saga undone = EndedSagaOf(order.order_id());
  EXPECT_EQ(undone.status(), v1::SAGA_STATUS_COMPENSATED);
  std::vector<std::string> timeline;
  for (const v1::SagaStepEvent& e : undone.steps()) {
    timeline.push_back(absl::StrCat(
        e.name(), " ",
        ShortEnumName(e.outcome(), v1::StepOutcome_Name<v1::StepOutcome>,
                      "STEP_OUTCOME_"),
        e.actor().empty() ? ""
                          : absl::StrCat(" by ", e.actor(), ": ", e.note())));
  }
  EXPECT_EQ(
      timeline,
      (std::vector<std::string>{
          "reserve_stock succeeded", "charge_payment succeeded",
          "create_shipment failed", "refund_payment failed",
          "hold_order succeeded",
          "operator_retry succeeded by ann: refund limit lifted for alice",
          "refund_payment succeeded", "release_stock succeeded",
          "reject_order succeeded"}));
  // Once is enough.
  std::tie(ok, out) = Operate({"retry", order.order_id(), "--note", "again"});
  EXPECT_FALSE(ok);
  EXPECT_NE(out.find("saga is compensated"), std::string::npos) << out;
}

// An operator who finished the order by hand resolves its failed saga as
// completed: the order is approved and the charge stands.
TEST_F(PlatformTest, AnOperatorResolvesAFailedSagaAsCompleted) {
  ASSERT_TRUE(SetChaos(Service::kPayment, "/sagaworks.v1.PaymentService/Refund",
                       1.0, 0, "FAILED_PRECONDITION")
                  .ok());
  absl::Cleanup clear = [] { (void)ClearChaos(Service::kPayment); };
  const int64_t balance = Balance("alice");
  v1::Order order;
  ASSERT_TRUE(Create("alice", "widget", 1, "ZZ", &order).ok());
  ASSERT_EQ(AwaitFinal(order.order_id()).status(),
            v1::ORDER_STATUS_NEEDS_ATTENTION);
  // A note is required, and only operators act.
  EXPECT_FALSE(
      Operate({"resolve", order.order_id(), "--as", "completed"}).first);
  auto [ok, out] = Operate({"resolve", order.order_id(), "--as", "completed",
                            "--note", "shipped with another courier"});
  ASSERT_TRUE(ok) << out;
  EXPECT_EQ(AwaitReleased(order.order_id()).status(),
            v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(Balance("alice"), balance - 1999);
  const v1::Saga saga = EndedSagaOf(order.order_id());
  EXPECT_EQ(saga.status(), v1::SAGA_STATUS_COMPLETED);
  bool recorded = false;
  for (const v1::SagaStepEvent& e : saga.steps()) {
    if (e.kind() == v1::STEP_KIND_OPERATOR) {
      recorded = e.name() == "operator_resolve_completed" &&
                 e.actor() == "ann" &&
                 e.note() == "shipped with another courier";
    }
  }
  EXPECT_TRUE(recorded);
  // `sagactl sagas show` prints the action.
  std::vector<std::string> argv = SagactlArgs();
  argv.insert(argv.end(),
              {"--orchestrator", platform().Address(Service::kOrchestrator),
               "sagas", "show", order.order_id()});
  ASSERT_TRUE(local::Run(argv, &out).ok()) << out;
  EXPECT_NE(out.find("by ann: shipped with another courier"), std::string::npos)
      << out;
}

TEST_F(PlatformTest, CancellingARejectedOrderIsRefused) {
  v1::Order order;
  ASSERT_TRUE(Create("bob", "widget", 1, "DE", &order).ok());
  ASSERT_EQ(AwaitFinal(order.order_id()).status(), v1::ORDER_STATUS_REJECTED);
  v1::Order answer;
  grpc::Status s = Cancel(order.order_id(), &answer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("already rejected"), std::string::npos);
}

// `sagactl load` places orders at a pace and reports how they ended.
TEST_F(PlatformTest, SagactlLoadPlacesOrdersAndReportsHowTheyEnded) {
  const int64_t before = Balance("alice");
  ExpectAllApproved(20, {"--rate", "20", "--seconds", "1"});
  EXPECT_EQ(Balance("alice"), before - 20 * 1999);
  // bob cannot pay: every order ends, rejected.
  std::string out =
      Load({"--rate", "10", "--seconds", "0.5", "--customer", "bob"});
  EXPECT_NE(out.find("5 ended: 5 rejected"), std::string::npos) << out;
  // A bad setting is refused before anything is placed.
  EXPECT_FALSE(local::Run({Sagactl(), "load", "--rate", "0"}, &out).ok());
  EXPECT_NE(out.find("--rate"), std::string::npos) << out;
}

TEST_F(PlatformTest, ABurstOfOrdersWhileStartingSagasIsSlowAllEnd) {
  // StartSaga slowed down, so more orders wait in the outbox relay's queue
  // than one read of the table returns: the queue must still drain, and
  // every order get its saga once.
  ASSERT_TRUE(SetChaos(Service::kOrchestrator,
                       "/sagaworks.v1.SagaOrchestrator/StartSaga", 0, 150)
                  .ok());
  absl::Cleanup clear = [] { (void)ClearChaos(Service::kOrchestrator); };
  const int64_t before = Balance("alice");
  ExpectAllApproved(
      200, {"--rate", "200", "--seconds", "1", "--wait-seconds", "30"});
  EXPECT_EQ(Balance("alice"), before - 200 * 1999);
}

// Runs last (gtest runs tests in declaration order): the real `sagactl down`
// stops everything it started, and nothing is left listening.
// WatchOrder streams are bounded: a caller holds a few at most, and each
// ends after its longest lifetime, telling the client to watch again.
// A platform started with settings other than the defaults.
class TunedPlatformTest : public PlatformTest {
 protected:
  static void SetUpTestSuite() {
    StartPlatform({{Name(Service::kOrder),
                    {"--watch-max-seconds=2", "--max-watches-per-caller=2"}},
                   {Name(Service::kPayment), {"--no-reflection"}}});
  }
  void TearDown() override { (void)ClearChaos(Service::kInventory); }

  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::Order>> stream;
  };
  std::unique_ptr<Watch> Open(const std::string& order_id) {
    auto w = std::make_unique<Watch>();
    Deadline(&w->context);
    v1::WatchOrderRequest r;
    r.set_order_id(order_id);
    w->stream = orders_->WatchOrder(&w->context, r);
    return w;
  }
};

TEST_F(TunedPlatformTest, ACallerHoldsTwoWatchesAtMostEachForItsLifetime) {
  // The order stays PENDING while its first step is slow.
  ASSERT_TRUE(SetChaos(Service::kInventory,
                       "/sagaworks.v1.InventoryService/ReserveStock", 0, 4000)
                  .ok());
  v1::Order order, seen;
  ASSERT_TRUE(Create("alice", "widget", 1, "DE", &order).ok());
  std::unique_ptr<Watch> first = Open(order.order_id());
  std::unique_ptr<Watch> second = Open(order.order_id());
  ASSERT_TRUE(first->stream->Read(&seen));
  EXPECT_EQ(seen.status(), v1::ORDER_STATUS_PENDING);
  ASSERT_TRUE(second->stream->Read(&seen));

  std::unique_ptr<Watch> third = Open(order.order_id());
  EXPECT_FALSE(third->stream->Read(&seen));
  grpc::Status refused = third->stream->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("the most allowed"), std::string::npos)
      << refused.error_message();

  // Both end at their lifetime, the order still PENDING.
  for (Watch* w : {first.get(), second.get()}) {
    while (w->stream->Read(&seen)) {
    }
    grpc::Status ended = w->stream->Finish();
    EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(ended.error_message().find("watch again"), std::string::npos)
        << ended.error_message();
  }
  // Their places are free again.
  std::unique_ptr<Watch> again = Open(order.order_id());
  EXPECT_TRUE(again->stream->Read(&seen));
  again->context.TryCancel();
}

TEST_F(PlatformTest, ZzSagactlDownLeavesNothingListening) {
  std::string out;
  absl::Status s = local::Run({absl::StrCat(SAGAWORKS_BIN_DIR, "/sagactl"),
                               "--home", platform().home(), "down"},
                              &out);
  ASSERT_TRUE(s.ok()) << s << out;
  for (const auto& spec : platform::Services()) {
    EXPECT_FALSE(Listening(platform().Port(spec.id))) << spec.binary;
    // SIGTERM took the graceful path (drain, stop workers, close the pool)
    // rather than ending in the SIGKILL that follows a timeout.
    std::ifstream log(platform().platform().LogPath(spec.name));
    std::string line, last;
    while (std::getline(log, line)) {
      if (!line.empty()) last = line;
    }
    EXPECT_NE(last.find("\"message\":\"stopped\""), std::string::npos)
        << spec.binary << " log ends with: " << last;
  }
  EXPECT_FALSE(platform().platform().DatabaseRunning());
}

// Reflection is served unless a process is told not to.
TEST_F(TunedPlatformTest, NoReflectionTurnsReflectionOff) {
  auto reflect = [](std::shared_ptr<grpc::Channel> channel) {
    grpc::GenericStub stub(std::move(channel));
    grpc::ClientContext c;
    Deadline(&c);
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1), response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(
        &c, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
          status = std::move(s);
          done.Notify();
        });
    done.WaitForNotification();
    return status.error_code();
  };
  EXPECT_EQ(reflect(ChannelTo(Service::kPayment)),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(reflect(ChannelTo(Service::kInventory)),
            grpc::StatusCode::UNIMPLEMENTED);
}

// A foreground `sagactl up` ends by itself once `sagactl down` from another
// shell has stopped everything, instead of waiting for a Ctrl-C that would
// find nothing left to stop.
TEST(SagactlUpTest, ForegroundUpEndsOnceDownStopsEverythingElsewhere) {
  auto created = testing::TestPlatform::Create();
  ASSERT_TRUE(created.ok()) << created.status();
  testing::TestPlatform& p = **created;
  // What `up` prints comes through a pipe: "running" says it has started
  // everything and waits (a stop before that is a failed start, not this).
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
  std::fflush(stdout);
  const int saved_stdout = dup(STDOUT_FILENO);
  dup2(out[1], STDOUT_FILENO);
  std::string printed;
  auto read_printed = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) printed.append(buf, n);
  };
  // Should `up` miss the stop, a SIGTERM to its thread ends it (it takes
  // the signal as Ctrl-C) rather than the test hanging: blocked here as
  // sagactl blocks it, so the thread started next waits for it.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  std::atomic<int> code{-1};
  std::thread up([&] { code = sagactl::Up(p.platform(), /*detach=*/false); });
  absl::Cleanup join = [&] {
    if (code == -1) pthread_kill(up.native_handle(), SIGTERM);
    up.join();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    std::fflush(stdout);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    read_printed();
    close(out[0]);
    close(out[1]);
    std::cout << printed;
  };

  absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (code == -1 && printed.find("running;") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    read_printed();
  }
  ASSERT_EQ(code, -1) << "up ended before it was stopped";
  ASSERT_NE(printed.find("running;"), std::string::npos);

  std::string down;
  absl::Status s = local::Run(
      {absl::StrCat(SAGAWORKS_BIN_DIR, "/sagactl"), "--home", p.home(), "down"},
      &down);
  ASSERT_TRUE(s.ok()) << s << down;
  deadline = absl::Now() + absl::Seconds(30);
  while (code == -1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(code, 0) << "up still waits after everything was stopped";
  EXPECT_FALSE(p.platform().AnythingRunning());
}

// As root, `sagactl up` in a checkout the postgres user cannot enter (one
// under root's 0700 home) stops before making anything, naming the closed
// directory and what to do, rather than failing inside initdb.
TEST(SagactlUpTest, AsRootAHomeClosedToPostgresIsNamedBeforeAnythingStarts) {
  if (!local::RunningAsRoot()) GTEST_SKIP() << "PostgreSQL runs as us";
  char tmpl[] = "/tmp/sagaworks-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);  // mode 0700, as /root is
  const std::string closed = tmpl;
  testing::MarkOwned(closed);
  const std::string home = closed + "/checkout";
  ASSERT_EQ(mkdir(home.c_str(), 0755), 0);
  std::string out;
  absl::Status s = local::Run({absl::StrCat(SAGAWORKS_BIN_DIR, "/sagactl"),
                               "--home", home, "up", "--detach"},
                              &out);
  EXPECT_FALSE(s.ok()) << out;
  EXPECT_NE(out.find(absl::StrCat("cannot enter ", closed, " (on the way to ",
                                  home, "/.sagaworks)")),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(absl::StrCat("chmod o+x ", closed)), std::string::npos)
      << out;
  struct stat st;
  EXPECT_NE(stat((home + "/.sagaworks/pgdata").c_str(), &st), 0)
      << "a data directory was made";
  std::error_code ignored;
  std::filesystem::remove_all(closed, ignored);
}

// A watch is woken by its order service's own change of the order: with a
// poll of ten minutes, the stream still ends with the final status as soon
// as the saga approves the order.
TEST(WatchTest, AWatchEndsWhenItsOrderServiceMovesTheOrder) {
  auto started =
      testing::TestPlatform::Start({{"order", {"--watch-poll-ms=600000"}}});
  ASSERT_TRUE(started.ok()) << started.status();
  testing::TestPlatform& p = **started;
  auto orders = v1::OrderService::NewStub(
      p.ChannelAs(platform::Service::kOrder, "alice"));
  v1::CreateOrderRequest create;
  create.set_customer_id("alice");
  v1::OrderItem* item = create.add_items();
  item->set_sku("widget");
  item->set_quantity(1);
  *create.mutable_shipping_address() = testing::DemoAddress();
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  c.AddMetadata("idempotency-key", "watch-wakes-1");
  v1::Order order;
  ASSERT_TRUE(orders->CreateOrder(&c, create, &order).ok());

  grpc::ClientContext watch;
  // Far shorter than the poll: only a wake ends the stream in time.
  watch.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchOrderRequest w;
  w.set_order_id(order.order_id());
  auto stream = orders->WatchOrder(&watch, w);
  v1::Order seen;
  v1::OrderStatus last = v1::ORDER_STATUS_UNSPECIFIED;
  while (stream->Read(&seen)) last = seen.status();
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(last, v1::ORDER_STATUS_APPROVED);
}

// A local cluster made before passwords were asked for (trust, every table
// the superuser's) is switched over by the next `sagactl up`: passwords
// asked for, each service's database and tables passed to its role, and
// the platform serving.
// A service started before its database answers /health/startup (and
// /health/ready) with 503 naming what it waits for, and live with 200;
// once the database comes it applies its migrations and serves, and both
// turn 200.
TEST(ProbeTest, StartupSaysWhatItWaitsForUntilTheDatabaseComes) {
  auto created = testing::TestPlatform::Create();
  ASSERT_TRUE(created.ok()) << created.status();
  sagactl::Platform& p = (*created)->platform();
  const platform::ServiceInfo& payment =
      platform::Info(platform::Service::kPayment);
  auto get = [&](const char* path) -> std::pair<int, std::string> {
    httplib::Client client("127.0.0.1", p.HttpPort(payment));
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto res = client.Get(path);
    if (!res) return {0, ""};
    return {res->status, res->body};
  };
  auto await = [&](const char* path, int status, const std::string& says) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    std::pair<int, std::string> got;
    while (absl::Now() < give_up) {
      got = get(path);
      if (got.first == status && got.second.find(says) != std::string::npos) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << path << ": " << got.first << " " << got.second;
    return false;
  };
  absl::StatusOr<pid_t> pid = p.StartService(payment);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(await("/health/startup", 503,
                    "not started: starting: waiting for the database"));
  EXPECT_EQ(get("/health/live").first, 200);
  EXPECT_EQ(get("/health/ready").first, 503);
  ASSERT_TRUE(p.StartDatabase().ok());
  ASSERT_TRUE(await("/health/startup", 200, "ok"));
  ASSERT_TRUE(await("/health/ready", 200, "ok"));
  EXPECT_TRUE(p.WaitServing({&payment}).ok());
}

TEST(SagactlUpTest, AClusterFromBeforePasswordsIsSwitchedOver) {
  auto created = testing::TestPlatform::Create();
  ASSERT_TRUE(created.ok()) << created.status();
  testing::TestPlatform& p = **created;
  const local::PostgresCluster& cluster = p.platform().cluster();
  const local::ClusterOptions& o = cluster.options();
  std::string out;
  auto as_postgres = [](std::vector<std::string> argv) {
    if (geteuid() == 0) {
      argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
    }
    return argv;
  };
  mkdir(o.data_dir.c_str(), 0700);
  if (geteuid() == 0) {
    ASSERT_TRUE(
        local::Run({"/usr/bin/env", "chown", "postgres", o.data_dir}, &out)
            .ok())
        << out;
  }
  ASSERT_TRUE(local::Run(as_postgres({o.bin_dir + "/initdb", "-D", o.data_dir,
                                      "-U", o.superuser, "--auth=trust"}),
                         &out)
                  .ok())
      << out;
  const std::string log = p.home() + "/old-postgres.log";
  { std::ofstream touch(log); }
  if (geteuid() == 0) {
    ASSERT_TRUE(
        local::Run({"/usr/bin/env", "chown", "postgres", log}, &out).ok());
  }
  const std::vector<std::string> pg_ctl = {
      o.bin_dir + "/pg_ctl", "-D", o.data_dir, "-w", "-l", log};
  std::vector<std::string> start = pg_ctl;
  start.insert(start.end(), {"-o",
                             absl::StrCat("-c listen_addresses=127.0.0.1 -p ",
                                          o.port, " -k ", o.data_dir),
                             "start"});
  ASSERT_TRUE(local::Run(as_postgres(start), &out).ok()) << out;
  // The old way: the superuser made each database and ran its migrations.
  for (const platform::ServiceInfo& spec : platform::Services()) {
    ASSERT_TRUE(cluster.CreateDatabase(spec.database).ok());
    db::PoolConfig config;
    config.url = cluster.Url(spec.database);  // trust: no password yet
    config.size = 1;
    auto pool = db::Pool::Create(config);
    ASSERT_TRUE(pool.ok()) << pool.status();
    ASSERT_TRUE(
        db::ApplyMigrations(**pool, migrations::ForService(spec.name)).ok());
    (*pool)->Close();
  }
  std::vector<std::string> stop = pg_ctl;
  stop.push_back("stop");
  ASSERT_TRUE(local::Run(as_postgres(stop), &out).ok()) << out;

  // Stopped with everything else when `p` goes.
  ASSERT_EQ(sagactl::Up(p.platform(), /*detach=*/true), 0);
  EXPECT_NE(ReadFile(o.data_dir + "/pg_hba.conf")
                .value_or("")
                .find("local all all scram-sha-256"),
            std::string::npos);
  const std::string payment =
      platform::DatabaseRole(platform::Info(platform::Service::kPayment));
  db::PoolConfig config;
  config.url = cluster.ServiceUrl("payments", payment);
  config.size = 1;
  auto pool = db::Pool::Create(config);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(TableOwner(**pool, "idempotency_keys"), payment);
}

}  // namespace
}  // namespace sagaworks
