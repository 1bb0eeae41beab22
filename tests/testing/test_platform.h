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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::testing {

class TestPlatform {
 public:
  // Flags per service name (platform::ServiceInfo::name).
  using ExtraArgs = std::map<std::string, std::vector<std::string>>;

  // Start brings everything up and waits until all report SERVING.
  // `extra_args` adds flags per service; `replicas` processes of each;
  // `ha`: PostgreSQL as a primary and a synchronous standby under Patroni.
  static absl::StatusOr<std::unique_ptr<TestPlatform>> Start(
      ExtraArgs extra_args = {}, int replicas = 1, bool ha = false);
  // Create only sets it up (a temp home, free ports), for a test that
  // starts it itself (as `sagactl up` does).
  static absl::StatusOr<std::unique_ptr<TestPlatform>> Create(
      ExtraArgs extra_args = {}, int replicas = 1, bool ha = false);
  // Stops whatever still runs and removes the temp directory.
  ~TestPlatform();

  sagactl::Platform& platform() { return *platform_; }
  const std::string& home() const { return home_; }
  // Address is 127.0.0.1:<the service's gRPC port>.
  std::string Address(platform::Service service) const;
  int Port(platform::Service service) const;

  // Token is a bearer token for `subject` with `roles`, signed with the
  // platform's local key, valid for `ttl` from now (expired when negative).
  std::string Token(const std::string& subject,
                    const std::vector<std::string>& roles = {},
                    absl::Duration ttl = absl::Hours(1)) const;
  // ChannelAs is a channel to `service` that calls as customer `subject`
  // (with `roles`): its bearer token over TLS, without a client certificate,
  // as a customer's grpcurl calls. One channel per service and subject.
  std::shared_ptr<grpc::Channel> ChannelAs(
      platform::Service service, const std::string& subject,
      const std::vector<std::string>& roles = {});
  // ChannelWithToken is a new channel to `service` that sends `token` as
  // its bearer token over TLS, without a client certificate; on a connection
  // of its own when `connection` is not 0 (see Dial).
  std::shared_ptr<grpc::Channel> ChannelWithToken(platform::Service service,
                                                  const std::string& token,
                                                  int connection = 0);
  // WorkloadChannel is a channel to `service` presenting workload `as`'s
  // certificate ("orchestrator", or any name the local CA issued).
  std::shared_ptr<grpc::Channel> WorkloadChannel(platform::Service service,
                                                 const std::string& as);

 private:
  TestPlatform() = default;
  std::string home_;
  std::unique_ptr<sagactl::Platform> platform_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_TEST_PLATFORM_H_
