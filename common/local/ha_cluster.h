// HaCluster: PostgreSQL run for high availability on this host, as a
// deployment would run it: two nodes (a primary and a synchronous standby)
// managed by Patroni, with a one-member etcd as Patroni's store, everything
// on 127.0.0.1 and under one directory. Patroni initialises the primary,
// clones the standby from it, names it in synchronous_standby_names (so a
// commit is acknowledged only once the standby has it), and promotes it
// when the primary dies; the old primary rejoins as the standby.
//
// Clients connect to both nodes with one libpq URL and
// target_session_attrs=read-write, so a new connection reaches whichever is
// the primary (PostgresCluster with ClusterOptions::ha_ports builds it).
//
// Example:
//   HaCluster ha(options);
//   ha.Start();                       // etcd, two Patroni nodes; a leader
//   ha.KillPrimaryPostmaster();       // a GameDay
//   ha.AwaitPrimary(absl::Seconds(30));
#ifndef SAGAWORKS_COMMON_LOCAL_HA_CLUSTER_H_
#define SAGAWORKS_COMMON_LOCAL_HA_CLUSTER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sagaworks::local {

struct HaOptions {
  // Holds etcd/, node1/ and node2/ (data), their Patroni configurations,
  // pid files and logs.
  std::string dir;
  // The superuser's password file (PostgresCluster's auth_dir), made there
  // when missing; Patroni bootstraps the cluster with that password.
  std::string auth_dir;
  std::string superuser = "sagaworks";
  // Holds ca.crt, etcd.crt/.key and patroni.crt/.key: etcd then serves
  // HTTPS and asks Patroni for a client certificate from that CA. Empty:
  // plaintext (loopback only).
  std::string tls_dir;
  // PostgreSQL's bin directory; empty means the newest
  // /usr/lib/postgresql/*/bin.
  std::string bin_dir;
  int etcd_port = 23790;
  int etcd_peer_port = 23800;
  // One per node: PostgreSQL's port and Patroni's REST API port.
  std::vector<int> pg_ports = {54331, 54332};
  std::vector<int> rest_ports = {18008, 18009};
  // Off only for throw-away test clusters (fsync off).
  bool durable = true;
  // Patroni's settings (docs/operations.md says why these values): the
  // leader key's time to live, the loop's period, how long a failing store
  // or database is retried before the leader demotes itself, and how far
  // behind a standby may be and still be promoted.
  int ttl_seconds = 10;
  int loop_wait_seconds = 1;
  int retry_timeout_seconds = 4;
  int64_t maximum_lag_on_failover_bytes = 1 << 20;
  // How long Start waits for a primary and a synchronous standby.
  absl::Duration ready_timeout = absl::Seconds(120);

  absl::Status Validate() const;
};

class HaCluster {
 public:
  explicit HaCluster(HaOptions options);

  // Start starts etcd and every node not running yet and waits until one
  // node is the primary and another its synchronous standby.
  absl::Status Start();
  // Stop stops the nodes (standby first), then etcd; OK when all are gone.
  absl::Status Stop();
  // Running: etcd or a node of this directory still runs.
  bool Running() const;

  // NodeState says what a node is now, by its REST API: PRIMARY, SYNC
  // STANDBY, REPLICA, STARTING (Patroni answers, PostgreSQL not ready) or
  // DOWN.
  std::string NodeState(int node) const;
  // Primary is the index of the node that is primary now, by its REST API.
  std::optional<int> Primary() const;
  // AwaitPrimary waits until a node is primary; its index.
  absl::StatusOr<int> AwaitPrimary(absl::Duration limit) const;
  // AwaitSyncStandby waits until a node is a synchronous standby.
  absl::Status AwaitSyncStandby(absl::Duration limit) const;
  // KillPrimaryPostmaster sends SIGKILL to the primary's postmaster (not to
  // its Patroni): the database host's failure as the cluster sees it. The
  // pid killed.
  absl::StatusOr<pid_t> KillPrimaryPostmaster();

  const HaOptions& options() const { return options_; }
  std::string NodeDir(int node) const;

 private:
  absl::Status WriteConfig(int node, const std::string& password) const;
  std::string PidFile(const std::string& name) const;
  std::optional<pid_t> ReadPid(const std::string& name) const;
  absl::Status StartProcess(const std::string& name,
                            std::vector<std::string> argv);
  // State answers GET <path> on a node's REST API with its HTTP status (0
  // when nothing answers).
  int RestStatus(int node, const char* path) const;
  std::string Bin(const std::string& tool) const;
  // LogTails is the end of each node's and etcd's log, for an error that
  // outlives the directory (a test's).
  std::string LogTails() const;
  // Password is `role`'s password from its file in auth_dir, made when
  // missing.
  absl::StatusOr<std::string> Password(const std::string& role) const;
  // TlsCopy is where Start copies a file of tls_dir for the postgres user.
  std::string TlsCopy(const std::string& file) const;

  HaOptions options_;
};

}  // namespace sagaworks::local

#endif  // SAGAWORKS_COMMON_LOCAL_HA_CLUSTER_H_
