// PlatformSuite: a GoogleTest fixture whose tests share one TestPlatform,
// started once for the suite and stopped after it. A suite that needs flags
// for some service defines its own SetUpTestSuite() calling
// StartPlatform({...}).
#ifndef SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_
#define SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_

#include <map>
#include <string>
#include <vector>

#include "common/client/channel.h"
#include "gtest/gtest.h"
#include "tests/testing/test_platform.h"

namespace sagaworks::testing {

class PlatformSuite : public ::testing::Test {
 protected:
  static void StartPlatform(
      std::map<std::string, std::vector<std::string>> extra_args = {}) {
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
  // ChannelTo opens a channel to a service by name ("payment").
  static std::shared_ptr<grpc::Channel> ChannelTo(const std::string& service) {
    return Dial(platform_->Address(service));
  }

 private:
  static inline TestPlatform* platform_ = nullptr;
};

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_PLATFORM_SUITE_H_
