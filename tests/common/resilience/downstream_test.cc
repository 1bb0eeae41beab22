// The client pipeline: retries, breaker, bulkhead, budget, deadlines and
// fallback on simulated time with scripted attempts, and pushback and
// deadline propagation against a real gRPC server on loopback.
#include "common/resilience/downstream.h"

#include <deque>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/client/channel.h"
#include "common/server/health.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

// Plays back scripted results, one per attempt, each taking `took` of
// simulated time; records each attempt's deadline.
class Script {
 public:
  Script(SimulatedClock& clock, std::vector<grpc::StatusCode> codes,
         absl::Duration took = absl::Milliseconds(5))
      : clock_(clock), codes_(codes.begin(), codes.end()), took_(took) {}

  grpc::Status operator()(grpc::ClientContext& ctx) {
    deadlines.push_back(absl::FromChrono(ctx.deadline()));
    clock_.Advance(took_);
    const grpc::StatusCode code =
        codes_.empty() ? grpc::StatusCode::OK : codes_.front();
    if (!codes_.empty()) codes_.pop_front();
    return code == grpc::StatusCode::OK ? grpc::Status::OK
                                        : grpc::Status(code, "scripted");
  }
  int attempts() const { return static_cast<int>(deadlines.size()); }

  std::vector<absl::Time> deadlines;

 private:
  SimulatedClock& clock_;
  std::deque<grpc::StatusCode> codes_;
  absl::Duration took_;
};

class DownstreamTest : public ::testing::Test {
 protected:
  DownstreamConfig Config() {
    DownstreamConfig c;
    c.call.attempt_timeout = absl::Seconds(1);
    c.call.total_timeout = absl::Seconds(10);
    c.call.retry.max_attempts = 4;
    c.breaker.consecutive_failures = 0;
    c.breaker.minimum_calls = 10;
    c.breaker.window_size = 10;
    c.retry_budget.min_retries_per_second = 100;
    return c;
  }
  SimulatedClock clock_{absl::FromUnixSeconds(10000)};
};

TEST_F(DownstreamTest, RetriesTransientFailuresUntilSuccess) {
  Downstream d("payment", Config(), clock_, 1);
  Script script(clock_, {grpc::StatusCode::UNAVAILABLE,
                         grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::OK});
  EXPECT_TRUE(d.Call("Charge", {}, std::ref(script)).ok());
  EXPECT_EQ(script.attempts(), 3);
  EXPECT_EQ(d.stats().retries, 2);
  EXPECT_EQ(d.stats().failures, 0);
}

TEST_F(DownstreamTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  Downstream d("payment", Config(), clock_, 1);
  Script script(
      clock_, std::vector<grpc::StatusCode>(10, grpc::StatusCode::UNAVAILABLE));
  absl::Status s = d.Call("Charge", {}, std::ref(script));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(script.attempts(), 4);
}

TEST_F(DownstreamTest, RefusalsAreNotRetriedAndDoNotHurtTheBreaker) {
  Downstream d("payment", Config(), clock_, 1);
  for (int i = 0; i < 20; ++i) {
    Script script(clock_, {grpc::StatusCode::FAILED_PRECONDITION});
    EXPECT_EQ(d.Call("Charge", {}, std::ref(script)).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(script.attempts(), 1);
  }
  EXPECT_EQ(d.BreakerFor("Charge").state(), BreakerState::kClosed);
}

TEST_F(DownstreamTest, TimeoutsAreRetriedOnlyForIdempotentCalls) {
  Downstream d("payment", Config(), clock_, 1);
  Script once(clock_, {grpc::StatusCode::DEADLINE_EXCEEDED});
  EXPECT_EQ(d.Call("Charge", {}, std::ref(once)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(once.attempts(), 1);
  Script keyed(clock_, {grpc::StatusCode::DEADLINE_EXCEEDED,
                        grpc::StatusCode::ABORTED, grpc::StatusCode::OK});
  CallOptions idempotent;
  idempotent.idempotent = true;
  EXPECT_TRUE(d.Call("Charge", idempotent, std::ref(keyed)).ok());
  EXPECT_EQ(keyed.attempts(), 3);
}

TEST_F(DownstreamTest, AnOpenBreakerFailsFastNamingTheDownstream) {
  DownstreamConfig c = Config();
  c.breaker.consecutive_failures = 3;
  c.call.retry.max_attempts = 1;
  Downstream d("payment", c, clock_, 1);
  for (int i = 0; i < 3; ++i) {
    Script fail(clock_, {grpc::StatusCode::UNAVAILABLE});
    (void)d.Call("Charge", {}, std::ref(fail));
  }
  Script never(clock_, {});
  absl::Status s = d.Call("Refund", {}, std::ref(never));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("payment: circuit breaker open"),
            absl::string_view::npos);
  EXPECT_EQ(never.attempts(), 0);  // the downstream was not called
  EXPECT_EQ(d.stats().breaker_rejections, 1);
  // After the open wait, a probe goes out and closes it again.
  clock_.Advance(c.breaker.open_wait);
  for (int i = 0; i < c.breaker.half_open_probes; ++i) {
    Script ok(clock_, {grpc::StatusCode::OK});
    EXPECT_TRUE(d.Call("Charge", {}, std::ref(ok)).ok());
  }
  EXPECT_EQ(d.BreakerFor("Charge").state(), BreakerState::kClosed);
}

TEST_F(DownstreamTest, PerMethodBreakersIsolateMethods) {
  DownstreamConfig c = Config();
  c.breaker.consecutive_failures = 2;
  c.breaker_per_method = true;
  c.call.retry.max_attempts = 1;
  Downstream d("payment", c, clock_, 1);
  for (int i = 0; i < 2; ++i) {
    Script fail(clock_, {grpc::StatusCode::UNAVAILABLE});
    (void)d.Call("Charge", {}, std::ref(fail));
  }
  Script ok(clock_, {grpc::StatusCode::OK});
  EXPECT_TRUE(d.Call("GetBalance", {}, std::ref(ok)).ok());
  EXPECT_EQ(d.BreakerFor("Charge").state(), BreakerState::kOpen);
  EXPECT_EQ(d.Breakers().size(), 2u);
}

TEST_F(DownstreamTest, NoAttemptOutlivesTheCallersDeadline) {
  Downstream d("shipping", Config(), clock_, 1);
  CallOptions options;
  options.idempotent = true;
  options.deadline = clock_.Now() + absl::Milliseconds(1500);
  // Each attempt times out after using its whole deadline.
  std::vector<absl::Time> deadlines;
  auto hang = [&](grpc::ClientContext& ctx) {
    const absl::Time deadline = absl::FromChrono(ctx.deadline());
    deadlines.push_back(deadline);
    clock_.Advance(deadline - clock_.Now());
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow");
  };
  const absl::Time start = clock_.Now();
  EXPECT_EQ(d.Call("CreateShipment", options, hang).code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_GE(deadlines.size(), 1u);
  EXPECT_EQ(deadlines[0], start + absl::Seconds(1));  // per-attempt timeout
  for (absl::Time t : deadlines) EXPECT_LE(t, options.deadline);
  EXPECT_LE(clock_.Now(), options.deadline);
}

TEST_F(DownstreamTest, TheRetryBudgetStopsARetryStorm) {
  DownstreamConfig c = Config();
  c.retry_budget = {0.1, 0, absl::Seconds(10)};
  c.breaker.failure_rate_threshold = 1.0;
  c.breaker.minimum_calls = 10;
  c.breaker.window_size = 1000;
  c.breaker.minimum_calls = 1000;
  Downstream d("payment", c, clock_, 1);
  int attempts = 0;
  auto down = [&](grpc::ClientContext&) {
    ++attempts;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  };
  for (int i = 0; i < 100; ++i) (void)d.Call("Charge", {}, down);
  // Without a budget: 400 attempts. With it: 100 calls + at most 10 retries.
  EXPECT_LE(attempts, 110);
  EXPECT_GT(d.stats().budget_exhausted, 0);
}

TEST_F(DownstreamTest, AFullBulkheadRejectsAtOnce) {
  DownstreamConfig c = Config();
  c.bulkhead.max_concurrent = 1;
  Downstream d("inventory", c, clock_, 1);
  absl::Status inner;
  auto outer = [&](grpc::ClientContext&) {
    Script script(clock_, {});
    inner = d.Call("ReserveStock", {}, std::ref(script));
    return grpc::Status::OK;
  };
  EXPECT_TRUE(d.Call("ReserveStock", {}, outer).ok());
  EXPECT_EQ(inner.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(inner.message().find("inventory: bulkhead full"),
            absl::string_view::npos);
}

TEST_F(DownstreamTest, FallbackReplacesOnlyTheFinalFailure) {
  Downstream d("inventory", Config(), clock_, 1);
  int fallbacks = 0;
  CallOptions options;
  options.fallback = [&](const absl::Status&) {
    ++fallbacks;
    return absl::OkStatus();
  };
  Script ok(clock_, {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::OK});
  EXPECT_TRUE(d.Call("GetStock", options, std::ref(ok)).ok());
  EXPECT_EQ(fallbacks, 0);
  Script bad(clock_, {grpc::StatusCode::NOT_FOUND});
  EXPECT_TRUE(d.Call("GetStock", options, std::ref(bad)).ok());
  EXPECT_EQ(fallbacks, 1);
}

// A real server that answers Health/Check with scripted failures, each with
// an optional pushback trailer.
class FlakyHealth final : public grpc::health::v1::Health::Service {
 public:
  using Answer = std::pair<grpc::StatusCode, std::string>;

  // Script sets the answers to come, Push adds one; Deadlines is each
  // call's deadline as the server saw it.
  void Script(std::deque<Answer> answers) {
    absl::MutexLock lock(&mu);
    script = std::move(answers);
  }
  void Push(Answer answer) {
    absl::MutexLock lock(&mu);
    script.push_back(std::move(answer));
  }
  std::vector<absl::Time> Deadlines() {
    absl::MutexLock lock(&mu);
    return deadlines;
  }

  grpc::Status Check(grpc::ServerContext* ctx,
                     const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    absl::MutexLock lock(&mu);
    deadlines.push_back(InboundDeadline(*ctx));
    if (script.empty()) {
      resp->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
      return grpc::Status::OK;
    }
    auto [code, pushback] = script.front();
    script.pop_front();
    if (!pushback.empty()) {
      ctx->AddTrailingMetadata("grpc-retry-pushback-ms", pushback);
    }
    return grpc::Status(code, "scripted");
  }

 private:
  absl::Mutex mu;
  std::deque<Answer> script ABSL_GUARDED_BY(mu);
  std::vector<absl::Time> deadlines ABSL_GUARDED_BY(mu);
};

// Real time, but records the waits instead of sleeping them.
class RecordingClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { waits.push_back(d); }
  void RunAfter(absl::Duration d, std::function<void()> fn) override {
    waits.push_back(d);
    fn();
  }
  std::vector<absl::Duration> waits;
};

class DownstreamServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = grpc::health::v1::Health::NewStub(
        Dial("127.0.0.1:" + std::to_string(port)));
  }
  void TearDown() override { server_->Shutdown(); }

  absl::Status Check(Downstream& d, const CallOptions& options = {}) {
    return d.Call("Check", options, [&](grpc::ClientContext& ctx) {
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      return stub_->Check(&ctx, req, &resp);
    });
  }

  FlakyHealth service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  RecordingClock clock_;
};

TEST_F(DownstreamServerTest, WaitsExactlyThePushbackTheServerAsks) {
  service_.Script({{grpc::StatusCode::RESOURCE_EXHAUSTED, "300"},
                   {grpc::StatusCode::UNAVAILABLE, "1200"}});
  DownstreamConfig c;
  c.call.retry.max_attempts = 5;
  Downstream d("health", c, clock_, 1);
  EXPECT_TRUE(Check(d).ok());
  EXPECT_EQ(clock_.waits,
            (std::vector<absl::Duration>{absl::Milliseconds(300),
                                         absl::Milliseconds(1200)}));
}

// A server shedding load on purpose says when to come back; the client
// waits and retries, and its breaker stays closed however often that
// happens. The same refusals without a pushback open it.
TEST_F(DownstreamServerTest, SheddingWithAPushbackLeavesTheBreakerClosed) {
  DownstreamConfig c;
  c.call.retry.max_attempts = 6;
  c.breaker.consecutive_failures = 2;
  c.retry_budget.min_retries_per_second = 100;
  for (int i = 0; i < 5; ++i) {
    service_.Push({grpc::StatusCode::RESOURCE_EXHAUSTED, "10"});
  }
  Downstream shed("health", c, clock_, 1);
  EXPECT_TRUE(Check(shed).ok());
  EXPECT_EQ(shed.BreakerFor("Check").state(), BreakerState::kClosed);
  EXPECT_EQ(service_.Deadlines().size(), 6u);

  for (int i = 0; i < 5; ++i) {
    service_.Push({grpc::StatusCode::RESOURCE_EXHAUSTED, ""});
  }
  Downstream unwell("health", c, clock_, 1);
  const absl::Status s = Check(unwell);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(unwell.BreakerFor("Check").state(), BreakerState::kOpen);
}

// The same pipeline holding no thread: attempts go through the async stub,
// the backoff waits on the clock's timer, and `done` gets the outcome.
TEST_F(DownstreamServerTest, AnAsyncCallRetriesOnTheClocksTimerAndSucceeds) {
  service_.Script({{grpc::StatusCode::UNAVAILABLE, ""},
                   {grpc::StatusCode::RESOURCE_EXHAUSTED, "250"}});
  DownstreamConfig c;
  c.call.retry.max_attempts = 5;
  Downstream d("health", c, clock_, 1);
  absl::Notification finished;
  absl::Status result = absl::UnknownError("not called");
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  d.CallAsync(
      "Check", {},
      [&](grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) {
        stub_->async()->Check(ctx, &request, &response, std::move(done));
      },
      [&](absl::Status s) {
        result = std::move(s);
        finished.Notify();
      });
  ASSERT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(service_.Deadlines().size(), 3u);
  // Our own backoff after UNAVAILABLE, then exactly the server's pushback.
  ASSERT_EQ(clock_.waits.size(), 2u);
  EXPECT_EQ(clock_.waits[1], absl::Milliseconds(250));
  EXPECT_EQ(d.stats().retries, 2);
  EXPECT_EQ(d.bulkhead().in_use(), 0);
}

TEST_F(DownstreamServerTest, AnAsyncCallAgainstAnOpenBreakerEndsAtOnce) {
  DownstreamConfig c;
  c.breaker.consecutive_failures = 1;
  c.call.retry.max_attempts = 1;
  service_.Script({{grpc::StatusCode::UNAVAILABLE, ""}});
  Downstream d("health", c, clock_, 1);
  EXPECT_EQ(Check(d).code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(d.BreakerFor("Check").state(), BreakerState::kOpen);
  absl::Status result;
  bool attempted = false, called = false;
  d.CallAsync(
      "Check", {},
      [&](grpc::ClientContext*, std::function<void(grpc::Status)> done) {
        attempted = true;
        done(grpc::Status::OK);
      },
      [&](absl::Status s) {
        called = true;
        result = std::move(s);
      });
  // Refused on the caller's thread, before anything was sent.
  EXPECT_TRUE(called);
  EXPECT_FALSE(attempted);
  EXPECT_NE(result.message().find("circuit breaker open"), std::string::npos)
      << result;
}

TEST_F(DownstreamServerTest, NegativePushbackMeansDoNotRetry) {
  service_.Script({{grpc::StatusCode::UNAVAILABLE, "-1"}});
  Downstream d("health", DownstreamConfig{}, clock_, 1);
  EXPECT_EQ(Check(d).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(clock_.waits.empty());
  EXPECT_EQ(service_.Deadlines().size(), 1u);
}

TEST_F(DownstreamServerTest, TheServerSeesTheCallersDeadlineNotALaterOne) {
  DownstreamConfig c;
  c.call.attempt_timeout = absl::Seconds(30);
  c.call.total_timeout = absl::Seconds(60);
  Downstream d("health", c, clock_, 1);
  CallOptions options;
  options.deadline = absl::Now() + absl::Seconds(2);  // an inbound deadline
  ASSERT_TRUE(Check(d, options).ok());
  ASSERT_EQ(service_.Deadlines().size(), 1u);
  EXPECT_LE(service_.Deadlines()[0], options.deadline + absl::Milliseconds(50));
  EXPECT_GT(service_.Deadlines()[0], options.deadline - absl::Seconds(1));
}

}  // namespace
}  // namespace sagaworks::resilience
