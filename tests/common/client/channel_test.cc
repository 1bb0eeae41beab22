// DialReplicas against two real servers on loopback: calls spread over the
// replicas that report SERVING, and stop going to one that reports
// NOT_SERVING or drains; ValidateTarget on what the --<peer>-address flags
// take.
#include "common/client/channel.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/grpc_server.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/payment.grpc.pb.h"

namespace sagaworks {
namespace {

TEST(ValidateTargetTest, AcceptsTheFormsDialReplicasDials) {
  for (const char* target :
       {"127.0.0.1:50052", "payment-service:50052", "[::1]:50052",
        "ipv4:127.0.0.1:50052,127.0.0.1:50152", "ipv6:[::1]:1,[::1]:2",
        "dns:///payment-service:50052", "dns:payment:50052",
        "dns://8.8.8.8:53/payment:50052"}) {
    EXPECT_TRUE(ValidateTarget(target).ok()) << target;
  }
}

TEST(ValidateTargetTest, RefusesWhatIsNotATargetSayingWhatIs) {
  for (const char* target : {"", "payment", "127.0.0.1:0", "127.0.0.1:70000",
                             "ipv4:", "ipv4:127.0.0.1:1,", "ipv4:127.0.0.1",
                             "dns:///payment", "dns://8.8.8.8:53", ":50052"}) {
    absl::Status s = ValidateTarget(target);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << target;
    EXPECT_NE(s.message().find("dns:///name:port"), std::string::npos)
        << s.message();
  }
}

// A payment service that only counts its GetBalance calls.
class CountingPayment final : public v1::PaymentService::Service {
 public:
  grpc::Status GetBalance(grpc::ServerContext*, const v1::GetBalanceRequest*,
                          v1::Balance*) override {
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

struct Replica {
  explicit Replica(absl::Duration drain) {
    server::ServerConfig config;
    config.tls.insecure = true;
    config.reflection = false;
    config.drain = drain;
    server = std::make_unique<server::GrpcServer>(config);
    server->Register(&service, v1::PaymentService::service_full_name());
  }
  CountingPayment service;
  std::unique_ptr<server::GrpcServer> server;
};

class DialReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto& r : replicas_) {
      r = std::make_unique<Replica>(absl::Seconds(5));
      ASSERT_TRUE(r->server->Start().ok());
    }
    stub_ = v1::PaymentService::NewStub(DialReplicas(
        absl::StrCat("ipv4:127.0.0.1:", replicas_[0]->server->port(),
                     ",127.0.0.1:", replicas_[1]->server->port())));
  }

  grpc::Status Call() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    context.set_wait_for_ready(false);
    v1::GetBalanceRequest request;
    v1::Balance balance;
    return stub_->GetBalance(&context, request, &balance);
  }

  // Calls until `n` in a row went to replica `only`, or 10 s pass.
  bool UntilOnlyTo(int only, int n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    int in_a_row = 0;
    while (in_a_row < n && absl::Now() < give_up) {
      const int before = replicas_[only]->service.calls.load();
      const bool ok = Call().ok();
      in_a_row = ok && replicas_[only]->service.calls.load() > before
                     ? in_a_row + 1
                     : 0;
    }
    return in_a_row >= n;
  }

  std::unique_ptr<Replica> replicas_[2];
  std::unique_ptr<v1::PaymentService::Stub> stub_;
};

TEST_F(DialReplicasTest, CallsGoRoundRobinOverTheReplicas) {
  // Both connect on the first calls; from then on they alternate.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (
      (replicas_[0]->service.calls == 0 || replicas_[1]->service.calls == 0) &&
      absl::Now() < give_up) {
    ASSERT_TRUE(Call().ok());
  }
  const int a = replicas_[0]->service.calls, b = replicas_[1]->service.calls;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Call().ok());
  EXPECT_EQ(replicas_[0]->service.calls - a, 20);
  EXPECT_EQ(replicas_[1]->service.calls - b, 20);
}

TEST_F(DialReplicasTest, AReplicaReportingNotServingGetsNoCalls) {
  replicas_[0]->server->health().SetAll(
      grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(UntilOnlyTo(1, 20));
  const int a = replicas_[0]->service.calls;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Call().ok());
  EXPECT_EQ(replicas_[0]->service.calls, a);
  // Serving again, it gets calls again.
  replicas_[0]->server->health().SetAll(
      grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(UntilOnlyTo(0, 1));
}

// Shutdown tells the watching client first: no call fails while one of two
// replicas goes away, and the rest go to the other.
TEST_F(DialReplicasTest, AReplicaShuttingDownIsLeftWithoutAFailedCall) {
  std::atomic<bool> done{false};
  std::atomic<int> failed{0}, made{0};
  std::thread caller([&] {
    while (!done) {
      if (!Call().ok()) ++failed;
      ++made;
    }
  });
  while (made < 50) absl::SleepFor(absl::Milliseconds(1));
  replicas_[0]->server->Shutdown();
  const int after = made;
  while (made < after + 50) absl::SleepFor(absl::Milliseconds(1));
  done = true;
  caller.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(replicas_[1]->service.calls, 50);
}

}  // namespace
}  // namespace sagaworks
