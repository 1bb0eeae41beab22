#include "tests/testing/test_platform.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/client/channel.h"
#include "common/files.h"
#include "common/local/subprocess.h"
#include "common/security/tls.h"
#include "common/security/token.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/leftovers.h"

namespace sagaworks::testing {

absl::StatusOr<std::unique_ptr<TestPlatform>> TestPlatform::Start(
    ExtraArgs extra_args, int replicas, bool ha) {
  absl::StatusOr<std::unique_ptr<TestPlatform>> p =
      Create(std::move(extra_args), replicas, ha);
  if (!p.ok()) return p.status();
  sagactl::Platform& platform = (*p)->platform();
  if (absl::Status s = platform.StartDatabase(); !s.ok()) return s;
  std::vector<const platform::ServiceInfo*> all;
  for (const auto& spec : platform.Instances()) {
    absl::StatusOr<pid_t> pid = platform.StartService(spec);
    if (!pid.ok()) return pid.status();
    all.push_back(&spec);
  }
  if (absl::Status s = platform.WaitServing(all); !s.ok()) return s;
  return p;
}

absl::StatusOr<std::unique_ptr<TestPlatform>> TestPlatform::Create(
    ExtraArgs extra_args, int replicas, bool ha) {
  RemoveLeftovers("sagaworks-e2e-", ".sagaworks/pgdata");
  std::unique_ptr<TestPlatform> p(new TestPlatform());
  char tmpl[] = "/tmp/sagaworks-e2e-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  p->home_ = tmpl;
  MarkOwned(p->home_);
  chmod(p->home_.c_str(), 0755);  // the postgres user must reach its data
  sagactl::PlatformOptions options;
  options.home = p->home_;
  options.bin_dir = SAGAWORKS_BIN_DIR;
  absl::StatusOr<int> port = local::FreePort();
  if (!port.ok()) return port.status();
  options.pg_port = *port;
  for (const auto& spec : platform::Services()) {
    for (int k = 1; k <= replicas; ++k) {
      const std::string name =
          k == 1 ? spec.name : absl::StrCat(spec.name, "#", k);
      port = local::FreePort();
      if (!port.ok()) return port.status();
      options.ports[name] = *port;
      port = local::FreePort();
      if (!port.ok()) return port.status();
      options.http_ports[name] = *port;
    }
  }
  options.replicas = replicas;
  options.ha = ha;
  if (ha) {
    for (auto* ports : {&options.ha_pg_ports, &options.ha_rest_ports}) {
      for (int node = 0; node < 2; ++node) {
        port = local::FreePort();
        if (!port.ok()) return port.status();
        ports->push_back(*port);
      }
    }
    for (int* etcd : {&options.etcd_port, &options.etcd_peer_port}) {
      port = local::FreePort();
      if (!port.ok()) return port.status();
      *etcd = *port;
    }
  }
  options.durable_db = false;
  options.extra_args = std::move(extra_args);
  p->platform_ = std::make_unique<sagactl::Platform>(options);
  // The test dials the platform as sagactl does, with its certificate.
  if (absl::Status s = p->platform_->SetUpTls(); !s.ok()) return s;
  return p;
}

TestPlatform::~TestPlatform() {
  if (platform_ != nullptr) {
    for (const auto& spec : platform_->Instances()) {
      (void)platform_->StopService(spec, /*hard=*/false);
    }
    (void)platform_->StopDatabase();
  }
  std::error_code ignored;
  std::filesystem::remove_all(home_, ignored);
}

std::string TestPlatform::Address(platform::Service service) const {
  return platform_->Address(platform::Info(service));
}

std::string TestPlatform::Token(const std::string& subject,
                                const std::vector<std::string>& roles,
                                absl::Duration ttl) const {
  // Valid for an hour from its start, which moves so that it ends `ttl`
  // from now.
  const std::optional<std::string> key =
      ReadFile(platform_->TlsDir() + "/token.key");
  if (!key.has_value()) {
    ADD_FAILURE() << "no token key in " << platform_->TlsDir();
    return "";
  }
  absl::StatusOr<std::string> token = security::MintToken(
      *key, subject, roles, absl::Now() + ttl - absl::Hours(1), absl::Hours(1));
  if (!token.ok()) ADD_FAILURE() << token.status();
  return token.value_or("");
}

std::shared_ptr<grpc::Channel> TestPlatform::ChannelAs(
    platform::Service service, const std::string& subject,
    const std::vector<std::string>& roles) {
  const std::string key = absl::StrCat(platform::Info(service).name, "|",
                                       subject, "|", absl::StrJoin(roles, ","));
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[key];
  if (channel == nullptr) {
    channel = ChannelWithToken(service, Token(subject, roles));
  }
  return channel;
}

std::shared_ptr<grpc::Channel> TestPlatform::ChannelWithToken(
    platform::Service service, const std::string& token, int connection) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(platform_->TlsDir() + "/ca.crt").value_or("");
  return Dial(
      Address(service),
      grpc::CompositeChannelCredentials(grpc::SslCredentials(tls),
                                        grpc::AccessTokenCredentials(token)),
      connection);
}

std::shared_ptr<grpc::Channel> TestPlatform::WorkloadChannel(
    platform::Service service, const std::string& as) {
  const std::string key =
      absl::StrCat(platform::Info(service).name, "|workload|", as);
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[key];
  if (channel == nullptr) {
    channel = Dial(Address(service),
                   security::ChannelCredentials(platform_->TlsFor(as)));
  }
  return channel;
}

int TestPlatform::Port(platform::Service service) const {
  return platform_->Port(platform::Info(service));
}

}  // namespace sagaworks::testing
