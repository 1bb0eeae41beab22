// The server guard on a real loopback server: authentication and the
// policy, per-principal rate limits with pushback, concurrency shedding, and
// fault injection; and the fault injector's rules.
#include "common/server/guard.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "common/client/channel.h"
#include "common/security/token.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace sagaworks::server {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Health/Check behind the guard, which checks it as `service`/`method`; it
// can be made to block until released.
class GuardedHealth final : public Health::Service {
 public:
  GuardedHealth(ServerGuard& guard, std::string service, const char* method)
      : guard_(guard, std::move(service)), method_(method) {}
  grpc::Status Check(grpc::ServerContext* context, const HealthCheckRequest*,
                     HealthCheckResponse* response) override {
    return guard_.Run(context, method_, [&] {
      {
        absl::MutexLock lock(&caller_mu);
        caller = Caller().Key();
      }
      ++entered;
      if (block) release.WaitForNotification();
      response->set_status(HealthCheckResponse::SERVING);
      return grpc::Status::OK;
    });
  }
  std::atomic<int> entered{0};
  std::atomic<bool> block{false};
  absl::Notification release;
  // The last call's principal, as its key.
  std::string LastCaller() {
    absl::MutexLock lock(&caller_mu);
    return caller;
  }
  absl::Mutex caller_mu;
  std::string caller ABSL_GUARDED_BY(caller_mu);

 private:
  ServiceGuard guard_;
  const char* method_;
};

class GuardTest : public ::testing::Test {
 protected:
  // Start serves Health/Check behind a guard with `config`; with `secure`
  // the trust boundary is on and the guard checks the call as `method`.
  void Start(ServerGuardConfig config, bool secure = false,
             std::string service = "grpc.health.v1.Health",
             const char* method = "Check") {
    AuthConfig auth;
    auth.insecure = !secure;
    auth.token_public_key_pem = key_.public_pem;
    auto authorizer = Authorizer::Create(auth, RealClock::Default());
    ASSERT_TRUE(authorizer.ok()) << authorizer.status();
    authorizer_ = *std::move(authorizer);
    guard_ = std::make_unique<ServerGuard>(config, RealClock::Default(),
                                           &chaos_, *authorizer_);
    service_ =
        std::make_unique<GuardedHealth>(*guard_, std::move(service), method);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = Health::NewStub(Dial("127.0.0.1:" + std::to_string(port)));
  }
  void TearDown() override {
    if (service_ != nullptr && !service_->release.HasBeenNotified()) {
      service_->release.Notify();
    }
    if (server_ != nullptr) server_->Shutdown();
  }

  // Token is a bearer token for `customer`, valid for `ttl` from now
  // (negative: expired).
  std::string Token(const std::string& customer,
                    absl::Duration ttl = absl::Hours(1),
                    std::vector<std::string> roles = {}) {
    absl::StatusOr<std::string> token =
        security::MintToken(key_.private_pem, customer, roles,
                            absl::Now() - absl::Hours(2) + ttl, absl::Hours(2));
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  // One call, as customer `customer` when set; `pushback` gets the
  // grpc-retry-pushback-ms trailer, if any.
  grpc::Status Call(
      const std::string& customer = "", std::string* pushback = nullptr,
      const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    if (!customer.empty()) {
      context.AddMetadata("authorization", "Bearer " + Token(customer));
    }
    for (const auto& [k, v] : metadata) context.AddMetadata(k, v);
    HealthCheckResponse response;
    grpc::Status s = stub_->Check(&context, HealthCheckRequest(), &response);
    if (pushback != nullptr) {
      auto it =
          context.GetServerTrailingMetadata().find("grpc-retry-pushback-ms");
      *pushback = it == context.GetServerTrailingMetadata().end()
                      ? ""
                      : std::string(it->second.data(), it->second.size());
    }
    return s;
  }

  const security::SigningKey key_ = *security::CreateSigningKey();
  resilience::FaultInjector chaos_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<ServerGuard> guard_;
  std::unique_ptr<GuardedHealth> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(GuardTest, RateLimitsEachPrincipalAndSaysWhenToComeBack) {
  ServerGuardConfig config;
  config.rate_limit = {2, {1, absl::Hours(1)}};  // a burst of 2, then 1/hour
  Start(config);
  EXPECT_TRUE(Call("acme").ok());
  EXPECT_EQ(service_->LastCaller(), "customer:acme");
  EXPECT_TRUE(Call("acme").ok());
  std::string pushback;
  grpc::Status refused = Call("acme", &pushback);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("customer:acme"), std::string::npos);
  // About an hour, in milliseconds.
  ASSERT_FALSE(pushback.empty());
  EXPECT_GT(std::stoll(pushback), 3500 * 1000);
  EXPECT_LE(std::stoll(pushback), 3600 * 1000);
  // Another customer has its own bucket; a caller without a token (only
  // possible with --insecure) is keyed by its address, whatever x-tenant-id
  // it claims.
  EXPECT_TRUE(Call("globex").ok());
  EXPECT_TRUE(Call("", nullptr, {{"x-tenant-id", "acme"}}).ok());
  EXPECT_EQ(service_->LastCaller(), "unverified:ipv4:127.0.0.1");
  EXPECT_EQ(guard_->stats().rate_limit_rejections, 1);
  EXPECT_EQ(service_->entered, 4);
}

TEST_F(GuardTest, RefusesCallersThePolicyDoesNotAllowBeforeTheHandlerRuns) {
  // Checked as PaymentService/Charge: only the orchestrator's certificate.
  Start({}, /*secure=*/true, "sagaworks.v1.PaymentService", "Charge");
  grpc::Status none = Call();
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(none.error_message().find("no credentials"), std::string::npos);
  grpc::Status customer = Call("mallory");
  EXPECT_EQ(customer.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(customer.error_message().find("customer:mallory may not call "
                                          "/sagaworks.v1.PaymentService/"
                                          "Charge; allowed: the orchestrator"),
            std::string::npos)
      << customer.error_message();
  grpc::Status as_operator = Call(
      "", nullptr,
      {{"authorization",
        "Bearer " + Token("ops", absl::Hours(1), {security::kOperatorRole})}});
  EXPECT_EQ(as_operator.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status expired = Call(
      "", nullptr,
      {{"authorization", "Bearer " + Token("mallory", -absl::Minutes(1))}});
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status not_bearer =
      Call("", nullptr, {{"authorization", "Basic bWFsbG9yeTpwdw=="}});
  EXPECT_EQ(not_bearer.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A tenant header claims nothing.
  grpc::Status claimed =
      Call("", nullptr, {{"x-tenant-id", "saga-orchestrator"}});
  EXPECT_EQ(claimed.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(service_->entered, 0);
  EXPECT_EQ(guard_->stats().unauthenticated, 4);
  EXPECT_EQ(guard_->stats().permission_denied, 2);
}

TEST_F(GuardTest, LetsACustomerIntoAMethodForCustomers) {
  Start({}, /*secure=*/true, "sagaworks.v1.OrderService", "GetOrder");
  EXPECT_TRUE(Call("alice").ok());
  EXPECT_EQ(service_->LastCaller(), "customer:alice");
}

TEST_F(GuardTest, ShedsCallsBeyondTheConcurrencyLimitInsteadOfQueueing) {
  ServerGuardConfig config;
  config.max_concurrent_calls = 2;
  Start(config);
  service_->block = true;
  std::thread a([&] { EXPECT_TRUE(Call().ok()); });
  std::thread b([&] { EXPECT_TRUE(Call().ok()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (service_->entered < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(service_->entered, 2);
  std::string pushback;
  grpc::Status shed = Call("", &pushback);
  EXPECT_EQ(shed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(shed.error_message().find("server busy"), std::string::npos);
  EXPECT_FALSE(pushback.empty());
  service_->release.Notify();
  a.join();
  b.join();
  EXPECT_EQ(guard_->in_flight(), 0);
  service_->block = false;
  EXPECT_TRUE(Call().ok());  // room again
}

TEST_F(GuardTest, InjectsTheConfiguredFailureBeforeTheHandlerRuns) {
  Start({});
  v1::ChaosRule rule;
  rule.set_method("/grpc.health.v1.Health/Check");
  rule.set_failure_rate(1.0);
  rule.set_code("ABORTED");
  ASSERT_TRUE(chaos_.Set(rule).ok());
  grpc::Status s = Call();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_NE(s.error_message().find("injected fault"), std::string::npos);
  EXPECT_EQ(service_->entered, 0);
  chaos_.Clear("");
  EXPECT_TRUE(Call().ok());
}

TEST(FaultInjectorTest, AMethodsOwnRuleWinsOverTheCatchAll) {
  resilience::FaultInjector chaos;
  v1::ChaosRule all;
  all.set_failure_rate(1.0);
  v1::ChaosRule charge;
  charge.set_method("/sagaworks.v1.PaymentService/Charge");
  charge.set_latency_ms(250);
  ASSERT_TRUE(chaos.Set(all).ok());
  ASSERT_TRUE(chaos.Set(charge).ok());
  auto on_charge = chaos.Decide("/sagaworks.v1.PaymentService/Charge", 0.0);
  ASSERT_TRUE(on_charge.has_value());
  EXPECT_TRUE(on_charge->failure.ok());
  EXPECT_EQ(on_charge->latency, absl::Milliseconds(250));
  auto on_refund = chaos.Decide("/sagaworks.v1.PaymentService/Refund", 0.99);
  ASSERT_TRUE(on_refund.has_value());
  EXPECT_EQ(on_refund->failure.code(), absl::StatusCode::kUnavailable);
  chaos.Clear("");
  EXPECT_FALSE(
      chaos.Decide("/sagaworks.v1.PaymentService/Refund", 0).has_value());
}

TEST(FaultInjectorTest, FailureRateIsAFractionOfDraws) {
  resilience::FaultInjector chaos;
  v1::ChaosRule rule;
  rule.set_failure_rate(0.25);
  ASSERT_TRUE(chaos.Set(rule).ok());
  EXPECT_FALSE(chaos.Decide("/x.Y/Z", 0.24)->failure.ok());
  EXPECT_TRUE(chaos.Decide("/x.Y/Z", 0.25)->failure.ok());
}

TEST(FaultInjectorTest, RefusesBadRules) {
  resilience::FaultInjector chaos;
  v1::ChaosRule rule;
  rule.set_code("SLOW");
  EXPECT_EQ(chaos.Set(rule).code(), absl::StatusCode::kInvalidArgument);
  rule = {};
  rule.set_method("Charge");
  EXPECT_NE(chaos.Set(rule).message().find("full method name"),
            absl::string_view::npos);
  rule = {};
  rule.set_latency_ms(600001);
  EXPECT_FALSE(chaos.Set(rule).ok());
  EXPECT_TRUE(chaos.State().rules().empty());
}

}  // namespace
}  // namespace sagaworks::server
