// PostgresCluster: a PostgreSQL server of our own, made with initdb in a
// directory and run with pg_ctl, listening only on 127.0.0.1. `sagactl up`
// runs the local cluster with it, and tests a throw-away one per test binary.
// As root, every PostgreSQL command runs as the `postgres` system user, since
// the server refuses to run as root.
//
// Every connection authenticates with a password (scram-sha-256). The
// passwords are drawn at random and kept in libpq password files, one per
// role, in the auth directory (mode 0700, files 0600); connection URIs name
// their file (`passfile=`), so no password is ever on a command line. Each
// service gets a role of its own that owns its database and nothing else
// (CreateServiceDatabase); the superuser is for setting up.
#ifndef SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_
#define SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/platform/services.h"

namespace sagaworks::local {

struct ClusterOptions {
  std::string data_dir;
  int port = platform::kLocalDatabasePort;
  std::string superuser = std::string(platform::kDatabaseSuperuser);
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
  // Where the password files live; empty means <data_dir's parent>/pgauth.
  std::string auth_dir;
  // The ports of a cluster run for high availability (HaCluster) on this
  // host: connection URIs name them all, with target_session_attrs=read-write
  // so a connection reaches whichever is the primary. Init, Start and Stop
  // are HaCluster's then.
  std::vector<int> ha_ports;
};

// DefaultPostgresBinDir is $SAGAWORKS_PG_BINDIR, else the newest
// /usr/lib/postgresql/*/bin.
std::string DefaultPostgresBinDir();
// ChownToPostgres hands a path to the postgres system user when running as
// root (PostgreSQL and Patroni run as that user then).
absl::Status ChownToPostgres(const std::string& path);
// AsPostgresUser is argv run as the postgres system user when running as
// root, else argv.
std::vector<std::string> AsPostgresUser(std::vector<std::string> argv);
// CheckPostgresCanEnter: when running as root, whether the postgres system
// user may enter `dir`, where the cluster's files go. A checkout in a
// directory closed to others (root's home is 0700 on Debian) fails here,
// naming the closed directory, instead of deep inside initdb.
absl::Status CheckPostgresCanEnter(const std::string& dir);

class PostgresCluster {
 public:
  explicit PostgresCluster(ClusterOptions options);

  // Initialized: the data directory holds a cluster.
  bool Initialized() const;
  // Init runs initdb, with password authentication for every connection
  // and a new superuser password.
  absl::Status Init();
  // Start starts the server and waits until it accepts connections. A
  // cluster made before passwords were asked for (trust authentication) is
  // given a superuser password and switched to scram-sha-256 first.
  absl::Status Start();
  // Running: a server runs on this data directory.
  bool Running() const;
  // Stop stops the server; `immediate` skips the clean shutdown (tests).
  absl::Status Stop(bool immediate = false);

  // CreateDatabase creates a database unless it exists (the superuser's).
  absl::Status CreateDatabase(const std::string& name) const;

  // CreateServiceDatabase makes `role` a login role with a password of its
  // own (kept across calls) and the owner of database `name` and of every
  // table in it; other roles but the superuser may not connect to it.
  absl::Status CreateServiceDatabase(const std::string& name,
                                     const std::string& role) const;

  // Url is the superuser's connection URI of one database.
  std::string Url(const std::string& database) const;
  // ServiceUrl is `role`'s connection URI of its database.
  std::string ServiceUrl(const std::string& database,
                         const std::string& role) const;

  const ClusterOptions& options() const { return options_; }

  // Password is `role`'s password from its file in the auth directory,
  // made (at random) when missing.
  absl::StatusOr<std::string> Password(const std::string& role) const;
  // PasswordFile is where Password keeps it, a libpq password file.
  std::string PasswordFile(const std::string& role) const;

 private:
  std::vector<std::string> AsPostgres(std::vector<std::string> argv) const;
  std::string UrlAs(const std::string& database, const std::string& user) const;
  // RequirePasswords switches a running cluster from trust to
  // scram-sha-256, unless it is there already.
  absl::Status RequirePasswords() const;
  std::string Bin(const std::string& tool) const;

  ClusterOptions options_;
};

}  // namespace sagaworks::local

#endif  // SAGAWORKS_COMMON_LOCAL_POSTGRES_CLUSTER_H_
