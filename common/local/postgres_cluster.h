// PostgresCluster: a PostgreSQL server of our own, made with initdb in a
// directory and run with pg_ctl, listening only on 127.0.0.1. `sagactl up`
// runs the local cluster with it, and tests a throw-away one per test binary.
// As root, every PostgreSQL command runs as the `postgres` system user, since
// the server refuses to run as root.
#ifndef SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_
#define SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/platform/services.h"

namespace sagaworks::local {

struct ClusterOptions {
  std::string data_dir;
  int port = platform::kLocalDatabasePort;
  std::string superuser = std::string(platform::kDatabaseUser);
  // Server log; empty puts it at <data_dir>/postgres.log.
  std::string log_file;
  // PostgreSQL's bin directory; empty means $SAGAWORKS_PG_BINDIR, else the
  // newest /usr/lib/postgresql/*/bin.
  std::string bin_dir;
  // Off only for throw-away test clusters: durability is not under test
  // there, and it makes each commit far cheaper.
  bool durable = true;
  // More server settings, "name=value" each (the benchmark loads
  // pg_stat_statements with one).
  std::vector<std::string> settings;
};

class PostgresCluster {
 public:
  explicit PostgresCluster(ClusterOptions options);

  // Initialized: the data directory holds a cluster.
  bool Initialized() const;
  // Init runs initdb (trust authentication: the server listens on loopback
  // only).
  absl::Status Init();
  // Start starts the server and waits until it accepts connections.
  absl::Status Start();
  // Running: a server runs on this data directory.
  bool Running() const;
  // Stop stops the server; `immediate` skips the clean shutdown (tests).
  absl::Status Stop(bool immediate = false);

  // CreateDatabase creates a database unless it exists.
  absl::Status CreateDatabase(const std::string& name) const;

  // Url is the connection URI of one database.
  std::string Url(const std::string& database) const;

  const ClusterOptions& options() const { return options_; }

 private:
  std::vector<std::string> AsPostgres(std::vector<std::string> argv) const;
  std::string Bin(const std::string& tool) const;

  ClusterOptions options_;
};

}  // namespace sagaworks::local

#endif  // SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_
