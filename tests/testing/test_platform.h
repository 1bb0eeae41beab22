// TestPlatform: the whole platform for end-to-end tests: the five real
// binaries on free loopback ports with a throw-away PostgreSQL and the demo
// data, set up by the same code `sagactl up` runs.
#ifndef SAGAWORKS_TESTS_TESTING_TEST_PLATFORM_H_
#define SAGAWORKS_TESTS_TESTING_TEST_PLATFORM_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::testing {

class TestPlatform {
 public:
  // Flags per service name (platform::ServiceInfo::name).
  using ExtraArgs = std::map<std::string, std::vector<std::string>>;

  // Start brings everything up and waits until all five report SERVING.
  // `extra_args` adds flags per service.
  static absl::StatusOr<std::unique_ptr<TestPlatform>> Start(
      ExtraArgs extra_args = {});
  // Create only sets it up (a temp home, free ports), for a test that
  // starts it itself (as `sagactl up` does).
  static absl::StatusOr<std::unique_ptr<TestPlatform>> Create(
      ExtraArgs extra_args = {});
  // Stops whatever still runs and removes the temp directory.
  ~TestPlatform();

  sagactl::Platform& platform() { return *platform_; }
  const std::string& home() const { return home_; }
  // Address is 127.0.0.1:<the service's gRPC port>.
  std::string Address(platform::Service service) const;
  int Port(platform::Service service) const;

 private:
  TestPlatform() = default;
  std::string home_;
  std::unique_ptr<sagactl::Platform> platform_;
};

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_TEST_PLATFORM_H_
