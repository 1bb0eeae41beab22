#include "common/local/ha_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/local/postgres_cluster.h"
#include "common/local/subprocess.h"
#include "httplib.h"

namespace sagaworks::local {
namespace {

constexpr char kEtcd[] = "/usr/bin/etcd";
constexpr char kEtcdctl[] = "/usr/bin/etcdctl";
constexpr char kPatroni[] = "/usr/bin/patroni";
constexpr char kScope[] = "sagaworks";

// Polls `done` every 100 ms until it holds or `limit` passes.
template <typename F>
bool PollUntil(absl::Duration limit, F done) {
  const absl::Time give_up = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::string NodeName(int node) { return absl::StrCat("node", node + 1); }

// Tail is the last `lines` lines of a file ("" when unreadable).
std::string Tail(const std::string& path, size_t lines) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) return "";
  size_t at = text->size();
  for (size_t n = 0; n <= lines && at > 0; ++n) {
    at = text->rfind('\n', at - 1);
    if (at == std::string::npos) return *text;
  }
  return text->substr(at + 1);
}

}  // namespace

absl::Status HaOptions::Validate() const {
  if (dir.empty() || dir.front() != '/') {
    return absl::InvalidArgumentError("the HA cluster needs an absolute dir");
  }
  if (pg_ports.size() != 2 || rest_ports.size() != 2) {
    return absl::InvalidArgumentError(
        "the HA cluster runs two nodes: two PostgreSQL and two REST ports");
  }
  if (loop_wait_seconds < 1 || retry_timeout_seconds < 1 ||
      loop_wait_seconds + 2 * retry_timeout_seconds > ttl_seconds) {
    return absl::InvalidArgumentError(
        "Patroni wants loop_wait >= 1, retry_timeout >= 1 and "
        "loop_wait + 2 x retry_timeout <= ttl");
  }
  return absl::OkStatus();
}

HaCluster::HaCluster(HaOptions options) : options_(std::move(options)) {
  if (options_.bin_dir.empty()) options_.bin_dir = DefaultPostgresBinDir();
}

std::string HaCluster::NodeDir(int node) const {
  return absl::StrCat(options_.dir, "/", NodeName(node));
}

std::string HaCluster::PidFile(const std::string& name) const {
  return absl::StrCat(options_.dir, "/", name, ".pid");
}

absl::StatusOr<std::string> HaCluster::Password(const std::string& role) const {
  // The password files are PostgresCluster's, where the services' URLs
  // name them.
  ClusterOptions files;
  files.data_dir = NodeDir(0);
  files.auth_dir = options_.auth_dir;
  return PostgresCluster(files).Password(role);
}

std::string HaCluster::TlsCopy(const std::string& file) const {
  return absl::StrCat(options_.dir, "/tls/", file);
}

std::string HaCluster::Bin(const std::string& tool) const {
  return absl::StrCat(options_.bin_dir, "/", tool);
}

std::optional<pid_t> HaCluster::ReadPid(const std::string& name) const {
  std::ifstream in(PidFile(name));
  int pid = 0;
  if (!(in >> pid) || pid <= 0 || !IsAlive(pid)) return std::nullopt;
  // Only while its command line names this directory: a pid the system has
  // given to another process since is not ours to signal.
  if (CommandLine(pid).find(options_.dir) == std::string::npos) {
    return std::nullopt;
  }
  return pid;
}

bool HaCluster::Running() const {
  if (ReadPid("etcd").has_value()) return true;
  for (int node = 0; node < 2; ++node) {
    if (ReadPid(NodeName(node)).has_value()) return true;
  }
  return false;
}

absl::Status HaCluster::StartProcess(const std::string& name,
                                     std::vector<std::string> argv) {
  if (ReadPid(name).has_value()) return absl::OkStatus();
  SpawnOptions spawn;
  spawn.argv = AsPostgresUser(std::move(argv));
  spawn.log_file = absl::StrCat(options_.dir, "/", name, ".log");
  // Patroni's worker processes enter the working directory again, as the
  // postgres user: the caller's may be closed to it (a private temp dir).
  spawn.working_dir = options_.dir;
  absl::StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) return pid.status();
  std::ofstream(PidFile(name)) << *pid << "\n";
  return absl::OkStatus();
}

absl::Status HaCluster::WriteConfig(int node,
                                    const std::string& password) const {
  // Passwords of Patroni's own roles, kept beside the superuser's.
  absl::StatusOr<std::string> replication = Password("replicator");
  if (!replication.ok()) return replication.status();
  absl::StatusOr<std::string> rewind = Password("rewinder");
  if (!rewind.ok()) return rewind.status();
  absl::StatusOr<std::string> rest = Password("patroni-rest");
  if (!rest.ok()) return rest.status();
  const std::string durability =
      options_.durable ? ""
                       // full_page_writes stays on: pg_rewind needs it to bring
                       // an old primary back as the standby.
                       : "        fsync: \"off\"\n";
  const std::string name = NodeName(node);
  // YAML by hand: every value here is ours (ports, paths under our
  // directory, hex passwords), none needs quoting beyond what is written.
  const std::string config = absl::StrCat(
      "scope: ", kScope, "\n", "namespace: /sagaworks/\n", "name: ", name, "\n",
      "log:\n  level: INFO\n",
      "restapi:\n  listen: 127.0.0.1:", options_.rest_ports[node],
      "\n  connect_address: 127.0.0.1:", options_.rest_ports[node],
      "\n  authentication:\n    username: patroni\n    password: ", *rest, "\n",
      "etcd3:\n  hosts: 127.0.0.1:", options_.etcd_port, "\n",
      options_.tls_dir.empty()
          ? std::string()
          : absl::StrCat("  protocol: https\n  cacert: ", TlsCopy("ca.crt"),
                         "\n  cert: ", TlsCopy("patroni.crt"),
                         "\n  key: ", TlsCopy("patroni.key"), "\n"),
      "bootstrap:\n  dcs:\n", "    ttl: ", options_.ttl_seconds, "\n",
      "    loop_wait: ", options_.loop_wait_seconds, "\n",
      "    retry_timeout: ", options_.retry_timeout_seconds, "\n",
      "    maximum_lag_on_failover: ", options_.maximum_lag_on_failover_bytes,
      "\n",
      // A crashed primary is failed over at once, not restarted in place:
      // in synchronous mode the standby has every acknowledged commit.
      "    primary_start_timeout: 0\n", "    synchronous_mode: true\n",
      "    postgresql:\n      use_pg_rewind: true\n      parameters:\n",
      "        synchronous_commit: \"on\"\n", "        wal_log_hints: \"on\"\n",
      "        max_wal_senders: 10\n", "        max_replication_slots: 10\n",
      "        max_connections: 200\n", durability,
      "  initdb:\n    - encoding: UTF8\n    - locale: C\n",
      "    - auth-host: scram-sha-256\n    - auth-local: trust\n",
      "  pg_hba:\n", "    - local all all scram-sha-256\n",
      "    - host replication replicator 127.0.0.1/32 scram-sha-256\n",
      "    - host all all 127.0.0.1/32 scram-sha-256\n", "postgresql:\n",
      "  listen: 127.0.0.1:", options_.pg_ports[node], "\n",
      "  connect_address: 127.0.0.1:", options_.pg_ports[node], "\n",
      "  data_dir: ", NodeDir(node), "\n",
      // An old primary that pg_rewind cannot bring back (its WAL went past
      // the point the standby was promoted at, commits never acknowledged
      // in synchronous mode) is cloned afresh from the new primary.
      "  remove_data_directory_on_rewind_failure: true\n",
      "  remove_data_directory_on_diverged_timelines: true\n",
      "  bin_dir: ", options_.bin_dir, "\n", "  pgpass: ", options_.dir, "/",
      name, ".pgpass\n", "  authentication:\n",
      "    superuser:\n      username: ", options_.superuser,
      "\n      password: ", password, "\n",
      "    replication:\n      username: replicator\n      password: ",
      *replication, "\n", "    rewind:\n      username: rewinder\n",
      "      password: ", *rewind, "\n", "  parameters:\n",
      "    unix_socket_directories: ", options_.dir, "\n");
  const std::string path = absl::StrCat(options_.dir, "/", name, ".yml");
  if (absl::Status s = WriteFileAtomically(path, config, 0600); !s.ok()) {
    return s;
  }
  return ChownToPostgres(path);
}

absl::Status HaCluster::Start() {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  for (const char* tool : {kEtcd, kEtcdctl, kPatroni}) {
    if (access(tool, X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(tool,
                       " is missing (Debian packages etcd-server, etcd-client "
                       "and patroni; scripts/setup installs them)"));
    }
  }
  mkdir(options_.dir.c_str(), 0700);
  if (absl::Status s = ChownToPostgres(options_.dir); !s.ok()) return s;
  absl::StatusOr<std::string> password = Password(options_.superuser);
  if (!password.ok()) return password.status();

  const bool tls = !options_.tls_dir.empty();
  if (tls) {
    // Copies the postgres user may read (the originals' directory is not
    // its to enter).
    mkdir((options_.dir + "/tls").c_str(), 0700);
    if (absl::Status s = ChownToPostgres(options_.dir + "/tls"); !s.ok()) {
      return s;
    }
    for (const char* file :
         {"ca.crt", "etcd.crt", "etcd.key", "patroni.crt", "patroni.key"}) {
      std::optional<std::string> pem =
          ReadFile(absl::StrCat(options_.tls_dir, "/", file));
      if (!pem.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("no ", options_.tls_dir, "/", file));
      }
      if (absl::Status s = WriteFileAtomically(TlsCopy(file), *pem, 0600);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = ChownToPostgres(TlsCopy(file)); !s.ok()) return s;
    }
  }
  const std::string client =
      absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", options_.etcd_port);
  const std::string peer =
      absl::StrCat("http://127.0.0.1:", options_.etcd_peer_port);
  std::vector<std::string> etcd = {kEtcd,
                                   "--name",
                                   "sagaworks",
                                   "--data-dir",
                                   options_.dir + "/etcd",
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   absl::StrCat("sagaworks=", peer),
                                   "--log-level",
                                   "warn"};
  std::vector<std::string> health = {
      kEtcdctl, "--endpoints", client,  "--dial-timeout",
      "1s",     "endpoint",    "health"};
  if (tls) {
    etcd.insert(etcd.end(),
                {"--client-cert-auth", "--trusted-ca-file", TlsCopy("ca.crt"),
                 "--cert-file", TlsCopy("etcd.crt"), "--key-file",
                 TlsCopy("etcd.key")});
    health.insert(health.end(),
                  {"--cacert", TlsCopy("ca.crt"), "--cert",
                   TlsCopy("patroni.crt"), "--key", TlsCopy("patroni.key")});
  }
  if (absl::Status s = StartProcess("etcd", etcd); !s.ok()) return s;
  std::string out;
  const bool etcd_up = PollUntil(absl::Seconds(30), [&] {
    return Run(AsPostgresUser(health), &out).ok();
  });
  if (!etcd_up) {
    return absl::UnavailableError(absl::StrCat("etcd did not become healthy (",
                                               out, "); see ", options_.dir,
                                               "/etcd.log"));
  }
  for (int node = 0; node < 2; ++node) {
    if (absl::Status s = WriteConfig(node, *password); !s.ok()) return s;
    if (absl::Status s = StartProcess(
            NodeName(node), {kPatroni, absl::StrCat(options_.dir, "/",
                                                    NodeName(node), ".yml")});
        !s.ok()) {
      return s;
    }
  }
  if (absl::StatusOr<int> primary = AwaitPrimary(options_.ready_timeout);
      !primary.ok()) {
    return primary.status();
  }
  return AwaitSyncStandby(options_.ready_timeout);
}

int HaCluster::RestStatus(int node, const char* path) const {
  httplib::Client c("127.0.0.1", options_.rest_ports[node]);
  c.set_connection_timeout(1);
  c.set_read_timeout(2);
  auto res = c.Get(path);
  return res ? res->status : 0;
}

std::string HaCluster::NodeState(int node) const {
  const int primary = RestStatus(node, "/primary");
  if (primary == 200) return "PRIMARY";
  if (primary == 0) return "DOWN";
  if (RestStatus(node, "/synchronous") == 200) return "SYNC STANDBY";
  if (RestStatus(node, "/replica") == 200) return "REPLICA";
  return "STARTING";
}

std::string HaCluster::LogTails() const {
  std::string out;
  for (const std::string name : {"node1", "node2", "etcd"}) {
    const std::string path = absl::StrCat(options_.dir, "/", name, ".log");
    absl::StrAppend(&out, "End of ", path, ":\n", Tail(path, 12), "\n");
  }
  return out;
}

std::optional<int> HaCluster::Primary() const {
  for (int node = 0; node < 2; ++node) {
    if (RestStatus(node, "/primary") == 200) return node;
  }
  return std::nullopt;
}

absl::StatusOr<int> HaCluster::AwaitPrimary(absl::Duration limit) const {
  std::optional<int> primary;
  if (!PollUntil(limit, [&] { return (primary = Primary()).has_value(); })) {
    return absl::DeadlineExceededError(
        absl::StrCat("no PostgreSQL primary after ",
                     absl::FormatDuration(limit), ". ", LogTails()));
  }
  return *primary;
}

absl::Status HaCluster::AwaitSyncStandby(absl::Duration limit) const {
  const bool found = PollUntil(limit, [&] {
    return RestStatus(0, "/synchronous") == 200 ||
           RestStatus(1, "/synchronous") == 200;
  });
  if (!found) {
    return absl::DeadlineExceededError(
        absl::StrCat("no synchronous standby after ",
                     absl::FormatDuration(limit), ". ", LogTails()));
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> HaCluster::KillPrimaryPostmaster() {
  std::optional<int> primary = Primary();
  if (!primary.has_value()) {
    return absl::FailedPreconditionError("no node is primary now");
  }
  std::optional<std::string> pidfile =
      ReadFile(NodeDir(*primary) + "/postmaster.pid");
  int pid = 0;
  if (!pidfile.has_value() ||
      !absl::SimpleAtoi(pidfile->substr(0, pidfile->find('\n')), &pid) ||
      pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", NodeDir(*primary), "/postmaster.pid"));
  }
  if (kill(pid, SIGKILL) != 0) {
    return absl::InternalError(absl::StrCat("cannot kill postmaster ", pid));
  }
  return pid;
}

absl::Status HaCluster::Stop() {
  absl::Status result = absl::OkStatus();
  // The standby first, so the primary's going is not a failover.
  std::vector<int> order = {0, 1};
  if (Primary() == 0) order = {1, 0};
  for (int node : order) {
    if (std::optional<pid_t> pid = ReadPid(NodeName(node))) {
      if (absl::Status s = Terminate(*pid, absl::Seconds(60)); !s.ok()) {
        result = s;
      }
    }
    unlink(PidFile(NodeName(node)).c_str());
    // A Patroni that died left its PostgreSQL running; stop that too.
    std::string out;
    if (access((NodeDir(node) + "/postmaster.pid").c_str(), F_OK) == 0) {
      (void)Run(AsPostgresUser({Bin("pg_ctl"), "-D", NodeDir(node), "-m",
                                "fast", "-w", "stop"}),
                &out);
    }
  }
  if (std::optional<pid_t> pid = ReadPid("etcd")) {
    if (absl::Status s = Terminate(*pid, absl::Seconds(15)); !s.ok()) {
      result = s;
    }
  }
  unlink(PidFile("etcd").c_str());
  return result;
}

}  // namespace sagaworks::local
