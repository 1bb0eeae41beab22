// Process: the start-up and shutdown sequence every sagaworks service shares,
// so each main.cc only wires its own parts:
//
//   Process process(platform::Service::kInventory);
//   if (auto code = process.ParseFlags(argc, argv)) return *code;
//   auto pool =
//       process.OpenDatabase(migrations::ForService(process.info().name));
//   if (!pool.ok()) return process.Fail(pool.status());
//   ... build the service, process.server().Register(...) ...
//   return process.Serve();
//
// Its names, default ports, database and peers come from the service registry
// (common/platform/services.h). Settings come from flags, then environment
// variables, then defaults; a bad value stops the process with a message naming
// the setting.
#ifndef SAGAWORKS_COMMON_SERVER_PROCESS_H_
#define SAGAWORKS_COMMON_SERVER_PROCESS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/migrate.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "common/observability/http_server.h"
#include "common/platform/services.h"
#include "common/resilience/config.h"
#include "common/server/admin_service.h"
#include "common/server/authorizer.h"
#include "common/server/chaos_service.h"
#include "common/server/grpc_server.h"
#include "common/server/guard.h"

namespace sagaworks::server {

// HostPortValidator checks a "host:port" flag value.
CLI::Validator HostPortValidator();
// TargetValidator checks a flag naming a service's replicas (ValidateTarget).
CLI::Validator TargetValidator();

// DescribeFlagError appends which flag and environment variable set the option
// a CLI11 error message names, so the user can find where the bad value came
// from.
std::string DescribeFlagError(const CLI::App& app, const std::string& error);

class Process {
 public:
  // Process declares the flags of registry service `id`, among them an
  // --<peer>-address for each service it calls.
  explicit Process(platform::Service id);
  ~Process();

  // info is the process's row in the service registry.
  const platform::ServiceInfo& info() const { return info_; }

  // app is where a service adds its own flags before ParseFlags().
  CLI::App& app() { return app_; }

  // PeerAddress is where peer `id` is (--<name>-address /
  // SAGAWORKS_<NAME>_ADDRESS), once ParseFlags() has run. `id` must be one of
  // the registry's peers of this process.
  const std::string& PeerAddress(platform::Service id) const;

  // ParseFlags returns an exit code when the process should stop now (--help,
  // or a bad setting, which it reports), nullopt to go on.
  std::optional<int> ParseFlags(int argc, char** argv);

  // OpenDatabase connects the pool and applies the migrations; with
  // `generic_plans`, see db::PoolConfig::generic_plans.
  absl::StatusOr<db::Pool*> OpenDatabase(const std::vector<db::SqlFile>& files,
                                         bool generic_plans = false);

  GrpcServer& server() { return *server_; }
  // http is the process's HTTP port (after ParseFlags()), where a service
  // mounts pages of its own.
  metrics::HttpServer& http() { return *http_; }
  // insecure: the trust boundary is off (--insecure).
  bool insecure() const { return server_config_.tls.insecure; }
  // listen_address is the --listen value (after ParseFlags()).
  const std::string& listen_address() const { return server_config_.listen; }
  // guard is what each service's handlers pass through (valid after
  // ParseFlags()).
  ServerGuard& guard() { return *guard_; }
  // MakeIdempotency builds the idempotency mechanism for the process's
  // mutating handlers on its database (after OpenDatabase), with its
  // background purge running until shutdown.
  absl::StatusOr<std::unique_ptr<idempotency::Idempotency>> MakeIdempotency();

  // MakeDownstream builds the pipeline for calls to peer `id`: `base`,
  // overridden by the --resilience-config file; it reports through
  // AdminService and /metrics.
  absl::StatusOr<std::unique_ptr<resilience::Downstream>> MakeDownstream(
      platform::Service id, resilience::DownstreamConfig base = {});

  // BeforeDrain registers work to run when a stop signal arrives, before
  // in-flight calls drain (ending long-lived streams).
  void BeforeDrain(std::function<void()> fn) {
    before_drain_.push_back(std::move(fn));
  }

  // OnShutdown registers work to stop after the server has drained and before
  // the pool closes (background workers), run in reverse order of
  // registration.
  void OnShutdown(std::function<void()> fn) {
    on_shutdown_.push_back(std::move(fn));
  }

  // Serve starts the HTTP port and the gRPC server, blocks until
  // SIGTERM/SIGINT, then shuts down in order: stop accepting, drain in-flight
  // calls, stop background work, close the pool, flush traces. Returns the
  // exit code.
  int Serve();

  // Fail logs a start-up error and returns the exit code to return from main.
  int Fail(const absl::Status& status);

 private:
  // LoadAuthConfig reads the token key and builds the authorizer.
  absl::Status LoadAuthConfig();
  // ConfigureTracing reads the OTEL_* variables and sets up the tracer.
  absl::Status ConfigureTracing();
  // The database watch pings the database every 2 s and turns gRPC health
  // NOT_SERVING while it does not answer.
  void StartDatabaseWatch();
  void StopDatabaseWatch();

  const platform::ServiceInfo& info_;
  CLI::App app_;
  ServerConfig server_config_;
  db::PoolConfig pool_config_;
  double shutdown_grace_seconds_ = 10;
  double drain_seconds_ = 2;
  double db_unhealthy_after_seconds_ = 10;
  absl::Duration db_unhealthy_after_ = absl::Seconds(10);
  // Set on SIGTERM: /health/ready answers 503 from then on.
  std::atomic<bool> draining_{false};
  // What start-up is doing, for /health/startup; empty once serving.
  void Starting(std::string step);
  absl::Status Started() const;
  mutable absl::Mutex start_mu_;
  std::string starting_ ABSL_GUARDED_BY(start_mu_) = "reading configuration";
  double db_connect_timeout_seconds_ = 30;
  double db_read_timeout_seconds_ = 5;
  std::string log_level_ = "info";
  std::unique_ptr<GrpcServer> server_;
  ServerGuardConfig guard_config_;
  bool enable_chaos_ = false;
  double rate_limit_per_second_ = 5000;
  resilience::FaultInjector chaos_;
  AuthConfig auth_config_;
  std::string token_public_key_file_;
  bool no_reflection_ = false;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<ServerGuard> guard_;
  std::unique_ptr<ChaosServiceImpl> chaos_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<db::Pool> probe_pool_;  // health checks only
  std::string http_listen_;
  std::unique_ptr<metrics::HttpServer> http_;
  bool tracing_ = false;
  absl::Mutex watch_mu_;
  bool watch_stop_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::thread watch_;
  // Address per peer name.
  std::map<std::string, std::string> peers_;
  std::string resilience_config_path_;
  double idempotency_retention_hours_ = 24;
  v1::ResilienceSettings resilience_settings_;
  std::vector<std::function<void()>> before_drain_;
  std::vector<std::function<void()>> on_shutdown_;
};

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_PROCESS_H_
