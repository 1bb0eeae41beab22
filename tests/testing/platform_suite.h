// PlatformSuite: a GoogleTest fixture whose tests share one TestPlatform,
// started once for the suite and stopped after it. A suite that needs flags
// for some service defines its own SetUpTestSuite() calling
// StartPlatform({...}).
#ifndef SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_
#define SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/client/channel.h"
#include "common/db/pool.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "tests/testing/test_platform.h"

namespace sagaworks::testing {

class PlatformSuite : public ::testing::Test {
 protected:
  using Service = platform::Service;

  static void StartPlatform(TestPlatform::ExtraArgs extra_args = {}) {
    auto started = TestPlatform::Start(std::move(extra_args));
    ASSERT_TRUE(started.ok()) << started.status();
    platform_ = started->release();
  }
  static void SetUpTestSuite() { StartPlatform(); }
  static void TearDownTestSuite() {
    delete platform_;
    platform_ = nullptr;
  }
  void SetUp() override {
    if (platform_ == nullptr) GTEST_SKIP() << "platform did not start";
  }

  static TestPlatform& platform() { return *platform_; }
  // Name is a service's name, the key of StartPlatform's flags.
  static std::string Name(Service service) {
    return platform::Info(service).name;
  }
  // ChannelTo opens a channel to a service that calls as an operator (it
  // presents sagactl's certificate, as sagactl does).
  static std::shared_ptr<grpc::Channel> ChannelTo(Service service) {
    return Dial(platform_->Address(service));
  }
  // ChannelAs opens a channel to a service that calls as customer
  // `customer`, with a bearer token (see TestPlatform::ChannelAs).
  static std::shared_ptr<grpc::Channel> ChannelAs(Service service,
                                                  const std::string& customer) {
    return platform_->ChannelAs(service, customer);
  }
  // Orders is an order service stub calling as `customer`.
  static std::unique_ptr<v1::OrderService::Stub> Orders(
      const std::string& customer) {
    return v1::OrderService::NewStub(ChannelAs(Service::kOrder, customer));
  }
  // ChannelFrom opens a channel to a service that presents platform
  // process `as`'s certificate.
  static std::shared_ptr<grpc::Channel> ChannelFrom(Service service,
                                                    Service as) {
    return platform_->WorkloadChannel(service, platform::Info(as).name);
  }

  // Database opens one connection to a service's database; null, and a test
  // failure, if it cannot.
  static std::unique_ptr<db::Pool> Database(Service service) {
    db::PoolConfig config;
    config.url =
        platform_->platform().cluster().Url(platform::Info(service).database);
    config.size = 1;
    absl::StatusOr<std::unique_ptr<db::Pool>> pool = db::Pool::Create(config);
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  // SetChaos injects faults into `method` ("/pkg.Service/Method", or "" for
  // all) of a service: a failure rate and an added latency, failures
  // answering `code` (UNAVAILABLE when empty).
  static grpc::Status SetChaos(Service service, const std::string& method,
                               double failure_rate, int64_t latency_ms,
                               const std::string& code = "") {
    auto chaos = v1::ChaosService::NewStub(ChannelTo(service));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::SetChaosRequest r;
    r.mutable_rule()->set_method(method);
    r.mutable_rule()->set_failure_rate(failure_rate);
    r.mutable_rule()->set_latency_ms(latency_ms);
    r.mutable_rule()->set_code(code);
    v1::ChaosState state;
    return chaos->SetChaos(&c, r, &state);
  }

  // ClearChaos removes every fault injected into a service.
  static grpc::Status ClearChaos(Service service) {
    auto chaos = v1::ChaosService::NewStub(ChannelTo(service));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ChaosState state;
    return chaos->ClearChaos(&c, {}, &state);
  }

  // Balance is a customer's balance in cents (a test failure if unreadable).
  static int64_t Balance(const std::string& customer) {
    auto payment = v1::PaymentService::NewStub(ChannelTo(Service::kPayment));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetBalanceRequest r;
    r.set_customer_id(customer);
    v1::Balance b;
    EXPECT_TRUE(payment->GetBalance(&c, r, &b).ok());
    return b.balance_cents();
  }

  // Stock is a SKU's stock (a test failure if unreadable).
  static v1::Stock Stock(const std::string& sku) {
    auto inventory =
        v1::InventoryService::NewStub(ChannelTo(Service::kInventory));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetStockRequest r;
    r.set_sku(sku);
    v1::Stock s;
    EXPECT_TRUE(inventory->GetStock(&c, r, &s).ok());
    return s;
  }

 private:
  static inline TestPlatform* platform_ = nullptr;
};

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_
