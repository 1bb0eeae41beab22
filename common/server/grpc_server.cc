#include "common/server/grpc_server.h"

#include <errno.h>
#include <signal.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace sagaworks::server {
namespace {

// How long a server whose health was watched keeps taking calls after every
// watcher was told it is going: well above a loopback or LAN round trip.
constexpr absl::Duration kDrainSettle = absl::Milliseconds(200);

// Linking the reflection library registers its plugin for every server at
// static initialisation, so turning reflection off means taking the plugin
// back out of the builder.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == "proto_server_reflection";
                       }),
        plugins->end());
  }
};

}  // namespace

absl::Status ServerConfig::Validate() const {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address '", listen, "' is not host:port (port 0-65535)"));
  }
  if (shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown grace must not be negative");
  }
  if (drain < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("drain time must not be negative");
  }
  if (max_message_bytes < 1024) {
    return absl::InvalidArgumentError("max message size below 1 KiB");
  }
  if (idle_threads < 1) {
    return absl::InvalidArgumentError(
        "idle handler threads must be at least 1");
  }
  return absl::OkStatus();
}

GrpcServer::GrpcServer(ServerConfig config) : config_(std::move(config)) {}

GrpcServer::~GrpcServer() {
  if (server_ != nullptr) Shutdown();
}

void GrpcServer::Register(grpc::Service* service, std::string full_name) {
  services_.emplace_back(service, std::move(full_name));
}

absl::Status GrpcServer::Start() {
  if (absl::Status s = config_.Validate(); !s.ok()) return s;
  // The plugin joins every server built after it is registered; a process
  // builds one.
  if (config_.reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  grpc::ServerBuilder builder;
  if (!config_.reflection) {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  builder.AddListeningPort(config_.listen,
                           security::ServerCredentials(config_.tls), &port_);
  builder.SetMaxReceiveMessageSize(config_.max_message_bytes);
  builder.SetMaxSendMessageSize(config_.max_message_bytes);
  // No bandwidth probing: small messages (see common/client/channel.cc).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, config_.idle_threads);
  builder.RegisterService(&health_);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config_.listen, " (address in use or invalid)"));
  }
  for (auto& [service, name] : services_) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  return absl::OkStatus();
}

void GrpcServer::Shutdown() {
  if (server_ == nullptr) return;
  const absl::Time drained = absl::Now() + config_.drain;
  const bool watched = health_.watches() > 0;
  health_.Shutdown();
  health_.AwaitWatchesTold(config_.drain);
  // A caller told NOT_SERVING may have sent calls just before; they are on
  // their way, and a server that has begun to shut down drops calls no
  // handler has taken yet (the caller sees CANCELLED).
  if (watched) {
    absl::SleepFor(std::min(kDrainSettle, drained - absl::Now()));
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  server_->Wait();
  server_.reset();
}

namespace {

// SIGTERM and SIGINT: what stops a process.
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool TerminationSignalPending() {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGINT) == 1;
}

int WaitForTerminationSignal() {
  const sigset_t set = TerminationSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int WaitForTerminationSignal(absl::Duration timeout) {
  const sigset_t set = TerminationSignals();
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const timespec left = absl::ToTimespec(
        std::max(deadline - absl::Now(), absl::ZeroDuration()));
    const int sig = sigtimedwait(&set, nullptr, &left);
    if (sig > 0) return sig;
    // EINTR: another signal's handler ran; the time left still counts.
    if (errno != EINTR || absl::Now() >= deadline) return 0;
  }
}

}  // namespace sagaworks::server
