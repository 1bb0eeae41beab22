// The trust boundary against the real processes: the authorization matrix
// (every RPC of every process against every kind of caller) and the attacks
// it exists to stop, each of which worked before it did.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/client/channel.h"
#include "common/files.h"
#include "common/security/certificates.h"
#include "common/security/tls.h"
#include "common/security/token.h"
#include "common/server/policy.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/orders.h"
#include "tests/testing/platform_suite.h"
#include "tests/testing/served_methods.h"

namespace sagaworks {
namespace {

using security::Principal;

// A kind of caller of the matrix: how it connects, and who the platform
// should take it for (nullopt: it should not get in at all).
struct Caller {
  std::string name;
  std::function<std::shared_ptr<grpc::Channel>(platform::Service)> dial;
  std::optional<Principal> principal;
  // What its calls answer when the policy is not even asked.
  grpc::StatusCode refused = grpc::StatusCode::UNAUTHENTICATED;
};

class SecurityTest : public testing::PlatformSuite {
 protected:
  static void Deadline(grpc::ClientContext* c) {
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }

  // Call makes one call of `method` with an empty request, as a server sees
  // any request it is sent: the answer's code is all the matrix reads.
  static grpc::StatusCode Call(std::shared_ptr<grpc::Channel> channel,
                               const std::string& method) {
    grpc::GenericStub stub(std::move(channel));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::ByteBuffer request, response;
    grpc::Slice empty;
    request = grpc::ByteBuffer(&empty, 1);
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&c, method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return status.error_code();
  }

  // Creds makes channel credentials that trust the platform CA and present
  // `cert`/`key` (no client certificate when empty).
  static std::shared_ptr<grpc::ChannelCredentials> Creds(
      const std::string& cert = "", const std::string& key = "") {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs =
        ReadFile(platform().platform().TlsDir() + "/ca.crt").value_or("");
    tls.pem_cert_chain = cert;
    tls.pem_private_key = key;
    return grpc::SslCredentials(tls);
  }

  static std::vector<Caller> Callers() {
    std::vector<Caller> callers;
    callers.push_back({"plaintext",
                       [](platform::Service s) {
                         return Dial(platform().Address(s),
                                     grpc::InsecureChannelCredentials());
                       },
                       std::nullopt, grpc::StatusCode::UNAVAILABLE});
    // A certificate claiming the orchestrator, from a CA nobody trusts.
    const absl::Time now = absl::Now();
    static const security::KeyPair* other_ca =
        new security::KeyPair(*security::CreateAuthority(
            "another CA", now - absl::Hours(1), now + absl::Hours(24)));
    static const security::KeyPair* impostor = new security::KeyPair(
        *security::Issue(*other_ca, {"impostor",
                                     security::SpiffeId("orchestrator"),
                                     {"localhost"},
                                     {"127.0.0.1"},
                                     now - absl::Hours(1),
                                     now + absl::Hours(24)}));
    callers.push_back({"another CA's orchestrator",
                       [](platform::Service s) {
                         return Dial(
                             platform().Address(s),
                             Creds(impostor->cert_pem, impostor->key_pem));
                       },
                       std::nullopt, grpc::StatusCode::UNAVAILABLE});
    callers.push_back({"no credentials",
                       [](platform::Service s) {
                         return Dial(platform().Address(s), Creds());
                       },
                       std::nullopt});
    for (const platform::ServiceInfo& info : platform::Services()) {
      const std::string name = info.name;
      callers.push_back({"workload " + name,
                         [name](platform::Service s) {
                           return platform().WorkloadChannel(s, name);
                         },
                         Principal::Workload(name)});
    }
    callers.push_back(
        {"sagactl",
         [](platform::Service s) { return Dial(platform().Address(s)); },
         Principal::Operator("sagactl")});
    callers.push_back(
        {"customer alice",
         [](platform::Service s) { return platform().ChannelAs(s, "alice"); },
         Principal::Customer("alice")});
    callers.push_back({"operator token",
                       [](platform::Service s) {
                         return platform().ChannelAs(s, "ops",
                                                     {security::kOperatorRole});
                       },
                       Principal::Operator("ops")});
    callers.push_back({"expired token",
                       [](platform::Service s) {
                         return platform().ChannelWithToken(
                             s,
                             platform().Token("alice", {}, -absl::Minutes(1)));
                       },
                       std::nullopt});
    static const security::SigningKey* other_key =
        new security::SigningKey(*security::CreateSigningKey());
    callers.push_back(
        {"token signed by another key",
         [](platform::Service s) {
           return platform().ChannelWithToken(
               s, *security::MintToken(other_key->private_pem, "alice",
                                       {security::kOperatorRole}, absl::Now(),
                                       absl::Hours(1)));
         },
         std::nullopt});
    return callers;
  }
};

// Every method every process serves, called by every kind of caller: those
// with no valid credentials are refused before the policy is asked
// (UNAVAILABLE at the handshake, or UNAUTHENTICATED), and the rest get
// PERMISSION_DENIED exactly where the policy does not name them. (An
// allowed call of an empty request is refused for its content, which the
// matrix does not read.) Health checks answer everyone who gets through.
TEST_F(SecurityTest, EveryMethodAnswersEveryCallerAsThePolicySays) {
  const std::vector<Caller> callers = Callers();
  int calls = 0;
  for (const testing::ServedMethod& served : testing::ServedMethods()) {
    const std::string& method = served.method;
    if (served.descriptor->server_streaming() &&
        served.descriptor->service()->full_name() ==
            grpc::health::v1::Health::service_full_name()) {
      continue;  // Health/Watch answers with a stream, not a code
    }
    const server::MethodPolicy* policy = server::FindPolicy(method);
    ASSERT_NE(policy, nullptr) << method;
    for (const Caller& caller : callers) {
      SCOPED_TRACE(
          absl::StrCat(served.process->name, " ", method, " as ", caller.name));
      const grpc::StatusCode got =
          Call(caller.dial(served.process->id), method);
      ++calls;
      if (caller.refused == grpc::StatusCode::UNAVAILABLE) {
        EXPECT_EQ(got, grpc::StatusCode::UNAVAILABLE);
      } else if (policy->open) {
        EXPECT_EQ(got, grpc::StatusCode::OK);
      } else if (!caller.principal.has_value()) {
        EXPECT_EQ(got, grpc::StatusCode::UNAUTHENTICATED);
      } else if (!server::Check(method, *caller.principal).ok()) {
        EXPECT_EQ(got, grpc::StatusCode::PERMISSION_DENIED);
      } else {
        EXPECT_NE(got, grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_NE(got, grpc::StatusCode::UNAUTHENTICATED);
        EXPECT_NE(got, grpc::StatusCode::UNAVAILABLE);
      }
    }
  }
  EXPECT_GE(calls, 5 * 8 * static_cast<int>(callers.size()));
  // The operator's empty SetChaos rules are rules too.
  for (const platform::ServiceInfo& info : platform::Services()) {
    ASSERT_TRUE(ClearChaos(info.id).ok());
  }
}

class AttackTest : public SecurityTest {
 protected:
  grpc::Status Create(const std::string& as, const std::string& customer,
                      const std::string& sku, const std::string& key,
                      v1::Order* out) {
    v1::CreateOrderRequest r;
    r.set_customer_id(customer);
    v1::OrderItem* item = r.add_items();
    item->set_sku(sku);
    item->set_quantity(1);
    *r.mutable_shipping_address() = testing::DemoAddress();
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", key);
    return Orders(as)->CreateOrder(&c, r, out);
  }

  v1::Order Read(const std::string& order_id) {
    auto orders = v1::OrderService::NewStub(ChannelTo(Service::kOrder));
    grpc::ClientContext c;
    Deadline(&c);
    v1::GetOrderRequest r;
    r.set_order_id(order_id);
    v1::Order order;
    EXPECT_TRUE(orders->GetOrder(&c, r, &order).ok());
    return order;
  }

  v1::Order Final(const std::string& order_id) {
    auto orders = v1::OrderService::NewStub(ChannelTo(Service::kOrder));
    return testing::AwaitOrderFinal(*orders, order_id);
  }
};

// Approving an order for nothing: the call that set bob's order APPROVED at
// total 0 is refused for everyone but the orchestrator, with no effect.
TEST_F(AttackTest, NobodyButTheOrchestratorApprovesAnOrder) {
  const std::string start = "/sagaworks.v1.SagaOrchestrator/StartSaga";
  ASSERT_TRUE(SetChaos(Service::kOrchestrator, start, 1.0, 0).ok());
  v1::Order order;
  ASSERT_TRUE(Create("bob", "bob", "gadget", "attack-approve", &order).ok());
  v1::ApproveOrderRequest approve;
  approve.set_order_id(order.order_id());
  approve.set_total_cents(0);
  for (const auto& [who, channel] :
       std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>>{
           {"bob", ChannelAs(Service::kOrder, "bob")},
           {"sagactl", ChannelTo(Service::kOrder)},
           {"payment", ChannelFrom(Service::kOrder, Service::kPayment)},
           {"nobody", Dial(platform().Address(Service::kOrder), Creds())}}) {
    SCOPED_TRACE(who);
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", "approve-for-zero");
    v1::Order out;
    grpc::Status s =
        v1::OrderService::NewStub(channel)->ApproveOrder(&c, approve, &out);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                s.error_code() == grpc::StatusCode::UNAUTHENTICATED)
        << s.error_code() << " " << s.error_message();
  }
  EXPECT_EQ(Read(order.order_id()).status(), v1::ORDER_STATUS_PENDING);
  ASSERT_TRUE(ClearChaos(Service::kOrchestrator).ok());
  // bob has 100 cents: his gadget is rejected, and he keeps them. He reads
  // why as a category; an operator reads payment's own words.
  const v1::Order rejected = Final(order.order_id());
  EXPECT_EQ(rejected.status(), v1::ORDER_STATUS_REJECTED);
  EXPECT_EQ(Balance("bob"), 100);
  EXPECT_NE(rejected.failure_reason().find("has 100 cents"), std::string::npos)
      << rejected.failure_reason();
  grpc::ClientContext c;
  Deadline(&c);
  v1::GetOrderRequest get;
  get.set_order_id(order.order_id());
  v1::Order seen;
  ASSERT_TRUE(Orders("bob")->GetOrder(&c, get, &seen).ok());
  EXPECT_EQ(seen.failure_reason(), "insufficient funds");
}

// Refunding someone else's order, and charging anyone, is the
// orchestrator's alone: a customer, an operator and another platform
// process are all refused, and alice's money stays where it is.
TEST_F(AttackTest, NobodyButTheOrchestratorMovesMoney) {
  v1::Order order;
  ASSERT_TRUE(Create("alice", "alice", "widget", "attack-refund", &order).ok());
  ASSERT_EQ(Final(order.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  const int64_t alice = Balance("alice");
  const int64_t bob = Balance("bob");
  v1::RefundRequest refund;
  refund.set_order_id(order.order_id());
  v1::ChargeRequest charge;
  charge.set_order_id("0b0b0b0b-0000-4000-8000-00000000a77a");
  charge.set_customer_id("bob");
  charge.set_amount_cents(-1000);
  for (const auto& [who, channel] :
       std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>>{
           {"bob", ChannelAs(Service::kPayment, "bob")},
           {"sagactl", ChannelTo(Service::kPayment)},
           {"order", ChannelFrom(Service::kPayment, Service::kOrder)}}) {
    SCOPED_TRACE(who);
    auto payment = v1::PaymentService::NewStub(channel);
    v1::Charge out;
    grpc::ClientContext c1;
    Deadline(&c1);
    c1.AddMetadata("idempotency-key", "outsider-refund");
    EXPECT_EQ(payment->Refund(&c1, refund, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext c2;
    Deadline(&c2);
    c2.AddMetadata("idempotency-key", "outsider-charge");
    EXPECT_EQ(payment->Charge(&c2, charge, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Balance("alice"), alice);
  EXPECT_EQ(Balance("bob"), bob);
}

// Planting a key another caller will use: a key is the caller's own, so
// bob's attempt to order as alice under "k" is refused and leaves nothing,
// and when alice then uses "k" she places her order; nobody but the order
// service may start (or pre-empt) a saga under its keys.
TEST_F(AttackTest, KeysCannotBePlantedForAnotherCaller) {
  v1::Order planted;
  EXPECT_EQ(
      Create("bob", "alice", "widget", "attack-plant", &planted).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::Order order;
  ASSERT_TRUE(Create("alice", "alice", "widget", "attack-plant", &order).ok());
  EXPECT_EQ(order.customer_id(), "alice");

  v1::StartSagaRequest start;
  start.set_order_id(order.order_id());
  start.set_customer_id("alice");
  for (const auto& [who, channel] :
       std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>>{
           {"bob", ChannelAs(Service::kOrchestrator, "bob")},
           {"payment",
            ChannelFrom(Service::kOrchestrator, Service::kPayment)}}) {
    SCOPED_TRACE(who);
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key",
                  absl::StrCat("order:", order.order_id(), ":start-saga"));
    c.AddMetadata("x-tenant-id", "order-service");
    v1::Saga saga;
    EXPECT_EQ(v1::SagaOrchestrator::NewStub(channel)
                  ->StartSaga(&c, start, &saga)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Final(order.order_id()).status(), v1::ORDER_STATUS_APPROVED);
}

// A tenant header is not an identity: naming the orchestrator or the order
// service gets bob none of their rights.
TEST_F(AttackTest, ATenantHeaderClaimsNothing) {
  for (const char* tenant : {"saga-orchestrator", "orchestrator"}) {
    SCOPED_TRACE(tenant);
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", "tenant-spoof");
    c.AddMetadata("x-tenant-id", tenant);
    v1::ChargeRequest charge;
    charge.set_order_id("0b0b0b0b-0000-4000-8000-00000000b0b0");
    charge.set_customer_id("alice");
    charge.set_amount_cents(1);
    v1::Charge out;
    EXPECT_EQ(v1::PaymentService::NewStub(ChannelAs(Service::kPayment, "bob"))
                  ->Charge(&c, charge, &out)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

// Another customer's orders, balance and shipment: listing, reading,
// watching and cancelling them find nothing, and alice's order is
// untouched.
TEST_F(AttackTest, CustomersSeeOnlyTheirOwnData) {
  v1::Order alices;
  ASSERT_TRUE(Create("alice", "alice", "widget", "attack-list", &alices).ok());
  ASSERT_EQ(Final(alices.order_id()).status(), v1::ORDER_STATUS_APPROVED);
  v1::Order bobs;
  ASSERT_TRUE(Create("bob", "bob", "gadget", "attack-list-bob", &bobs).ok());
  Final(bobs.order_id());
  auto orders = Orders("bob");

  grpc::ClientContext list_all;
  Deadline(&list_all);
  v1::ListOrdersResponse mine;
  ASSERT_TRUE(orders->ListOrders(&list_all, {}, &mine).ok());
  ASSERT_FALSE(mine.orders().empty());
  for (const v1::Order& o : mine.orders()) EXPECT_EQ(o.customer_id(), "bob");

  grpc::ClientContext list_alice;
  Deadline(&list_alice);
  v1::ListOrdersRequest theirs;
  theirs.set_customer_id("alice");
  v1::ListOrdersResponse listed;
  EXPECT_EQ(orders->ListOrders(&list_alice, theirs, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(listed.orders().empty());

  grpc::ClientContext get;
  Deadline(&get);
  v1::GetOrderRequest by_id;
  by_id.set_order_id(alices.order_id());
  v1::Order seen;
  grpc::Status read = orders->GetOrder(&get, by_id, &seen);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(read.error_message(), "no order " + alices.order_id());

  grpc::ClientContext watch;
  Deadline(&watch);
  v1::WatchOrderRequest watched;
  watched.set_order_id(alices.order_id());
  auto stream = orders->WatchOrder(&watch, watched);
  EXPECT_FALSE(stream->Read(&seen));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext cancel;
  Deadline(&cancel);
  cancel.AddMetadata("idempotency-key", "attack-cancel");
  v1::CancelOrderRequest cancel_alices;
  cancel_alices.set_order_id(alices.order_id());
  EXPECT_EQ(orders->CancelOrder(&cancel, cancel_alices, &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Read(alices.order_id()).status(), v1::ORDER_STATUS_APPROVED);

  grpc::ClientContext shipment;
  Deadline(&shipment);
  v1::GetShipmentRequest ship;
  ship.set_order_id(alices.order_id());
  v1::Shipment shipped;
  EXPECT_EQ(v1::ShippingService::NewStub(ChannelAs(Service::kShipping, "bob"))
                ->GetShipment(&shipment, ship, &shipped)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext own_shipment;
  Deadline(&own_shipment);
  EXPECT_TRUE(
      v1::ShippingService::NewStub(ChannelAs(Service::kShipping, "alice"))
          ->GetShipment(&own_shipment, ship, &shipped)
          .ok());
  EXPECT_EQ(shipped.customer_id(), "alice");

  grpc::ClientContext balance;
  Deadline(&balance);
  v1::GetBalanceRequest alices_balance;
  alices_balance.set_customer_id("alice");
  v1::Balance b;
  EXPECT_EQ(v1::PaymentService::NewStub(ChannelAs(Service::kPayment, "bob"))
                ->GetBalance(&balance, alices_balance, &b)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// Nothing secret reaches the logs: after every call above (tokens valid,
// expired and forged, certificates, refusals), no line of any process's log
// holds a token or a key.
TEST_F(AttackTest, ZzLogsHoldNoTokensOrKeys) {
  int lines = 0;
  for (const platform::ServiceInfo& spec : platform::Services()) {
    std::ifstream log(platform().platform().LogPath(spec.name));
    std::string line;
    while (std::getline(log, line)) {
      ++lines;
      // Every JWT starts with the encoded '{"', and keys are PEM blocks.
      EXPECT_EQ(line.find("eyJ"), std::string::npos)
          << spec.binary << ": " << line;
      EXPECT_EQ(line.find("PRIVATE KEY"), std::string::npos)
          << spec.binary << ": " << line;
      EXPECT_EQ(line.find("Bearer"), std::string::npos)
          << spec.binary << ": " << line;
    }
  }
  EXPECT_GT(lines, 0) << "no logs read";
}

}  // namespace
}  // namespace sagaworks
