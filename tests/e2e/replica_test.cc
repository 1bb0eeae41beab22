// Two replicas of every service, balanced by their callers: one of each is
// killed in turn under a steady load (the replica-loss GameDay, as `sagactl
// gameday replica-loss` runs it), or stopped with SIGTERM. No order may be
// lost or refused, and money and stock must match the approved orders.
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "tests/testing/test_platform.h"
#include "tools/sagactl/gameday.h"

namespace sagaworks {
namespace {

using platform::Service;

class ReplicaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto p = testing::TestPlatform::Start({}, /*replicas=*/2);
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = p->release();
  }
  static void TearDownTestSuite() {
    delete platform_;
    platform_ = nullptr;
  }

  // A short GameDay: the faults 2 s apart, from 2 s into a 12 s load.
  static sagactl::GameDayOptions ShortRun() {
    sagactl::GameDayOptions o;
    o.rate = 30;
    o.seconds = 12;
    o.first_fault = absl::Seconds(2);
    o.fault_spacing = absl::Seconds(2);
    return o;
  }

  static testing::TestPlatform* platform_;
};

testing::TestPlatform* ReplicaTest::platform_ = nullptr;

TEST_F(ReplicaTest, KillingOneReplicaOfEachServiceLosesNoOrder) {
  std::ostringstream out;
  const int code =
      sagactl::ReplicaLossGameDay(platform_->platform(), ShortRun(), out);
  std::cout << out.str();
  EXPECT_EQ(code, 0) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "orders lost: 0\n")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "refused 0")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "\nPASSED")) << out.str();
  EXPECT_FALSE(absl::StrContains(out.str(), "OFF BY")) << out.str();
  // Every replica was started again.
  for (const platform::ServiceInfo& instance :
       platform_->platform().Instances()) {
    EXPECT_EQ(platform_->platform().Status(instance).health,
              sagactl::Health::kServing)
        << sagactl::Platform::Label(instance);
  }
}

// A replica stopped with SIGTERM says NOT_SERVING, waits until its callers
// know, and finishes what it holds: every order goes through at its first
// call.
TEST_F(ReplicaTest, AReplicaThatDrainsCostsNoCall) {
  sagactl::Platform& platform = platform_->platform();
  std::vector<sagactl::Fault> faults;
  std::vector<const platform::ServiceInfo*> stopped;
  for (Service id : {Service::kOrder, Service::kPayment}) {
    const platform::ServiceInfo* victim =
        platform.FindInstance(platform::Info(id).name + "#2");
    ASSERT_NE(victim, nullptr);
    stopped.push_back(victim);
    faults.push_back({"SIGTERM " + sagactl::Platform::Label(*victim),
                      [&platform, victim]() -> absl::StatusOr<std::string> {
                        absl::Status s =
                            platform.StopService(*victim, /*hard=*/false);
                        if (!s.ok()) return s;
                        return std::string("stopped");
                      }});
  }
  const auto repair = [&]() -> absl::Status {
    for (const platform::ServiceInfo* victim : stopped) {
      absl::StatusOr<pid_t> pid = platform.StartService(*victim);
      if (!pid.ok()) return pid.status();
    }
    return platform.WaitServing(stopped);
  };
  sagactl::GameDayOptions options = ShortRun();
  options.attempts = 1;  // a refused call is a failure here, not retried
  std::ostringstream out;
  const int code =
      sagactl::RunGameDay(platform, "drain", faults, repair, options, out);
  std::cout << out.str();
  EXPECT_EQ(code, 0) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "refused 0")) << out.str();
}

// PostgreSQL as a primary and a synchronous standby under Patroni, and two
// replicas of every service: the primary's postmaster is killed under load.
class DbFailoverTest : public ::testing::Test {};

TEST_F(DbFailoverTest, KillingThePrimaryLosesNoOrderAndFailsOverQuickly) {
  auto p = testing::TestPlatform::Start({}, /*replicas=*/2, /*ha=*/true);
  ASSERT_TRUE(p.ok()) << p.status();
  sagactl::GameDayOptions o;
  o.rate = 30;
  o.seconds = 12;
  o.first_fault = absl::Seconds(3);
  std::ostringstream out;
  const int code = sagactl::DbFailoverGameDay((*p)->platform(), o, out);
  std::cout << out.str();
  EXPECT_EQ(code, 0) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "orders lost: 0\n")) << out.str();
  EXPECT_FALSE(absl::StrContains(out.str(), "OFF BY")) << out.str();
  // The fault line says how long the promotion took; under 30 s.
  const size_t at = out.str().find(" primary ");
  ASSERT_NE(at, std::string::npos) << out.str();
  double seconds = 0;
  ASSERT_TRUE(absl::SimpleAtod(
      out.str().substr(at + 9, out.str().find(' ', at + 9) - at - 9), &seconds))
      << out.str();
  EXPECT_LT(seconds, 30);
  // The old primary is back, as the synchronous standby.
  EXPECT_TRUE((*p)->platform().ha()->AwaitSyncStandby(absl::Seconds(60)).ok());
}

}  // namespace
}  // namespace sagaworks
