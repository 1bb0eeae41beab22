// GrpcServer: the gRPC server every sagaworks process runs, with server
// reflection (unless turned off) and grpc.health.v1.Health built in, and a
// graceful shutdown.
#ifndef SAGAWORKS_COMMON_SERVER_GRPC_SERVER_H_
#define SAGAWORKS_COMMON_SERVER_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/security/tls.h"
#include "common/server/health.h"
#include "grpcpp/server.h"

namespace sagaworks::server {

// ServerConfig holds what every process's gRPC server takes from its flags.
struct ServerConfig {
  // host:port to listen on; port 0 picks a free one.
  std::string listen = "127.0.0.1:0";
  // How long in-flight calls may take to finish on shutdown before they are
  // cancelled.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How long shutdown waits, after reporting NOT_SERVING, for the clients
  // that watch this server's health to be told, before it stops accepting
  // calls: a caller balancing over replicas then sends its next call to
  // another one instead of having it refused.
  absl::Duration drain = absl::Seconds(2);
  // Largest request or response accepted.
  int max_message_bytes = 4 << 20;
  // Handler threads kept waiting between calls. gRPC's default keeps two, so
  // under concurrent load it starts and ends a thread for nearly every call.
  int idle_threads = 64;
  // Mutual TLS, or plaintext when `tls.insecure`.
  security::TlsConfig tls;
  // Server reflection (what grpcurl lists and describes), open to anyone.
  bool reflection = true;

  absl::Status Validate() const;
};

class GrpcServer {
 public:
  explicit GrpcServer(ServerConfig config);
  ~GrpcServer();

  // Register adds a service before Start(); `full_name`
  // ("sagaworks.v1.OrderService") is what health checks ask about.
  void Register(grpc::Service* service, std::string full_name);

  // Start binds and starts serving; health reports SERVING afterwards.
  absl::Status Start();
  // port is the bound port, valid after Start().
  int port() const { return port_; }

  // Shutdown reports NOT_SERVING, waits (up to `drain`) until the clients
  // watching its health have been told, stops accepting calls, lets
  // in-flight calls finish within the grace period, then cancels what is
  // left.
  void Shutdown();

  HealthService& health() { return health_; }

 private:
  const ServerConfig config_;
  HealthService health_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// BlockTerminationSignals blocks SIGTERM and SIGINT in the calling thread and
// every thread it starts later; call it first in main(), so that only
// WaitForTerminationSignal() receives them.
void BlockTerminationSignals();

// TerminationSignalPending tells, without consuming it, whether SIGTERM or
// SIGINT arrived while blocked: start-up loops use it to give up early.
bool TerminationSignalPending();

// WaitForTerminationSignal blocks until SIGTERM or SIGINT arrives and returns
// its number.
int WaitForTerminationSignal();

// The same for at most `timeout`: 0 when none arrived by then.
int WaitForTerminationSignal(absl::Duration timeout);

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_GRPC_SERVER_H_
