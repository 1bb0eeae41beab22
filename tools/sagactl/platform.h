// Platform: the local sagaworks stack that sagactl manages: one PostgreSQL
// cluster under <home>/.sagaworks and the five processes, each with a pid file
// and a log there.
#ifndef SAGAWORKS_TOOLS_SAGACTL_PLATFORM_H_
#define SAGAWORKS_TOOLS_SAGACTL_PLATFORM_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/local/ha_cluster.h"
#include "common/local/postgres_cluster.h"
#include "common/platform/services.h"
#include "common/security/tls.h"

namespace sagaworks::sagactl {

struct PlatformOptions {
  // The checkout; state lives in <home>/.sagaworks.
  std::string home;
  // Directory holding the service binaries.
  std::string bin_dir;
  int pg_port = platform::kLocalDatabasePort;
  // gRPC port per service name, where not the default.
  std::map<std::string, int> ports;
  // HTTP port per service name, where not the default.
  std::map<std::string, int> http_ports;
  // Extra flags per service name (a test's second orchestrator has a name of
  // its own).
  std::map<std::string, std::vector<std::string>> extra_args;
  // Off for throw-away test clusters only.
  bool durable_db = true;
  // More PostgreSQL settings, "name=value" each.
  std::vector<std::string> db_settings;
  absl::Duration ready_timeout = absl::Seconds(60);
  // Plaintext between the processes (--insecure), no certificates.
  bool insecure = false;
  // Processes of each service; 0: as many as `sagactl up` last started
  // (recorded in <home>/.sagaworks/replicas), else 1.
  int replicas = 0;
  // PostgreSQL for high availability (local::HaCluster: two nodes under
  // Patroni, etcd) instead of one server; also on when `sagactl up --ha`
  // started the platform (recorded as <home>/.sagaworks/ha).
  bool ha = false;
  // Its ports, where not the defaults (tests pick free ones).
  std::vector<int> ha_pg_ports;
  std::vector<int> ha_rest_ports;
  int etcd_port = 0;
  int etcd_peer_port = 0;
};

// Replica k (from 2) of a service is named "<name>#k" ("payment#2") and
// listens on the first replica's ports plus (k - 1) * kReplicaPortStep.
inline constexpr int kReplicaPortStep = 100;
inline constexpr int kMaxReplicas = 9;

// kSagactlIdentity is sagactl's workload name: its certificate says
// spiffe://sagaworks.local/sagactl.
inline constexpr char kSagactlIdentity[] = "sagactl";

enum class Health { kServing, kNotServing, kDown };

struct ServiceStatus {
  const platform::ServiceInfo* spec;
  std::optional<pid_t> pid;  // from the pid file, if that process lives
  Health health;
};

class Platform {
 public:
  explicit Platform(PlatformOptions options);

  // StartDatabase initialises the cluster if missing, starts it if stopped,
  // creates the databases, applies every migration and loads the demo data.
  absl::Status StartDatabase();
  absl::Status StopDatabase();
  bool DatabaseRunning() const;
  // ha is the HA cluster when the platform runs one, else null.
  local::HaCluster* ha() { return ha_.get(); }
  // DatabaseWhere says where PostgreSQL listens, for people.
  std::string DatabaseWhere() const;
  // AnythingRunning: the database or any service of this home still runs.
  bool AnythingRunning() const;

  // SetUpTls makes the platform CA and a certificate for each service and for
  // sagactl under <home>/.sagaworks/tls/ where missing, and makes this
  // process dial with sagactl's (plaintext with `insecure`).
  absl::Status SetUpTls();
  // insecure: plaintext, no certificates (--insecure).
  bool insecure() const { return options_.insecure; }
  // TlsDir holds ca.crt (what grpcurl's -cacert takes) and <name>.crt/.key.
  std::string TlsDir() const { return state_dir_ + "/tls"; }
  // TlsFor is the TLS configuration of workload `name` ("payment").
  security::TlsConfig TlsFor(const std::string& name) const;
  // MintToken signs a bearer token for `subject` with the local token key
  // (TlsDir()/token.key), valid for `ttl`.
  absl::StatusOr<std::string> MintToken(const std::string& subject,
                                        const std::vector<std::string>& roles,
                                        absl::Duration ttl) const;
  // Bearer is the `authorization` value for calls as customer `subject`,
  // minted once and reused while it has over 5 minutes to live; "" with
  // `insecure` (the ports ask for no credentials). Thread-safe.
  absl::StatusOr<std::string> Bearer(const std::string& subject);

  // StartService starts a service unless it already runs; returns its pid.
  absl::StatusOr<pid_t> StartService(const platform::ServiceInfo& spec);
  // WaitServing polls each service's health until all are SERVING, or fails
  // naming those that are not (and the end of their logs).
  absl::Status WaitServing(
      const std::vector<const platform::ServiceInfo*>& specs);
  // StopService sends SIGTERM (SIGKILL when `hard`) and waits for the exit.
  absl::Status StopService(const platform::ServiceInfo& spec, bool hard);

  ServiceStatus Status(const platform::ServiceInfo& spec) const;

  // replicas is how many processes of each service this platform runs.
  int replicas() const { return replicas_; }
  // RecordReplicas writes replicas() and whether PostgreSQL runs for high
  // availability down for later sagactl commands.
  absl::Status RecordReplicas() const;
  // ForgetTopology removes what RecordReplicas wrote.
  void ForgetTopology() const;
  // Instances lists every replica of every service in start order (all of a
  // service's replicas before the next service); the first replica of each
  // is its registry row itself.
  const std::vector<platform::ServiceInfo>& Instances() const {
    return instances_;
  }
  // FindInstance maps "payment", "payment#2", "payment-service" or
  // "payment-service#2" to that replica; null when there is none.
  const platform::ServiceInfo* FindInstance(const std::string& name) const;
  // InstanceNames is what FindInstance accepts, for messages.
  std::string InstanceNames() const;
  // Label is what status lines call a replica: "payment-service#2".
  static std::string Label(const platform::ServiceInfo& instance);
  // Target is what a caller of `service` dials: the one replica's address,
  // or "ipv4:" and every replica's address.
  std::string Target(const platform::ServiceInfo& service) const;
  // MetricsPage is the service's /metrics page (read with
  // metrics::SampleValue); UNAVAILABLE when it does not answer.
  absl::StatusOr<std::string> MetricsPage(
      const platform::ServiceInfo& spec) const;

  // Port is the service's gRPC port; Address is 127.0.0.1:<port>.
  int Port(const platform::ServiceInfo& spec) const;
  int HttpPort(const platform::ServiceInfo& spec) const;
  std::string Address(const platform::ServiceInfo& spec) const;

  std::string LogPath(const std::string& name) const;
  std::string state_dir() const { return state_dir_; }
  const local::PostgresCluster& cluster() const { return cluster_; }

 private:
  std::optional<pid_t> ReadPid(const platform::ServiceInfo& spec) const;
  std::string PidPath(const platform::ServiceInfo& spec) const;

  PlatformOptions options_;
  std::string state_dir_;
  int replicas_ = 1;
  std::vector<platform::ServiceInfo> instances_;
  local::PostgresCluster cluster_;
  std::unique_ptr<local::HaCluster> ha_;
  absl::Mutex bearer_mu_;
  // Subject -> (authorization value, when its token expires).
  std::map<std::string, std::pair<std::string, absl::Time>> bearers_
      ABSL_GUARDED_BY(bearer_mu_);
};

// CheckHealth asks a gRPC server for grpc.health.v1 status.
Health CheckHealth(const std::string& address, absl::Duration timeout);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_PLATFORM_H_
