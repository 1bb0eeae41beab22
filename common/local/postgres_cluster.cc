#include "common/local/postgres_cluster.h"

#include <glob.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/local/subprocess.h"
#include "openssl/rand.h"
#include "pqxx/pqxx"

namespace sagaworks::local {
namespace {

// PercentEncoded escapes everything but URI unreserved characters, so that
// a directory can be a connection URI's host.
std::string PercentEncoded(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

}  // namespace

std::string DefaultPostgresBinDir() {
  if (const char* env = std::getenv("SAGAWORKS_PG_BINDIR"); env && *env) {
    return env;
  }
  glob_t g;
  std::string best = "/usr/lib/postgresql/15/bin";
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0) {
    std::vector<std::string> found(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    // Numeric order, so 15 beats 9.6.
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return std::atof(a.c_str() + 19) < std::atof(b.c_str() + 19);
    });
    best = found.back().substr(0, found.back().rfind('/'));
  }
  globfree(&g);
  return best;
}

absl::Status ChownToPostgres(const std::string& path) {
  if (!RunningAsRoot()) return absl::OkStatus();
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return absl::FailedPreconditionError(
        "running as root, but there is no 'postgres' system user to run "
        "PostgreSQL as (install the postgresql package)");
  }
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot chown ", path));
  }
  return absl::OkStatus();
}

std::vector<std::string> AsPostgresUser(std::vector<std::string> argv) {
  if (!RunningAsRoot()) return argv;
  std::vector<std::string> out = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::Status CheckPostgresCanEnter(const std::string& where) {
  if (!RunningAsRoot()) return absl::OkStatus();
  // Absolute, so that the walk below sees every directory on the way.
  std::error_code error;
  const std::string dir = std::filesystem::absolute(where, error).string();
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot make ", where, " absolute: ", error.message()));
  }
  auto can_enter = [](const std::string& path) {
    std::string out;
    return Run(AsPostgresUser({"/usr/bin/test", "-x", path}), &out).ok();
  };
  if (can_enter(dir)) return absl::OkStatus();
  // The outermost directory on the way that is closed: what to open (or
  // avoid) is there, not necessarily in `dir` itself.
  std::string closed = dir;
  for (size_t slash = dir.find('/', 1); slash != std::string::npos;
       slash = dir.find('/', slash + 1)) {
    if (!can_enter(dir.substr(0, slash))) {
      closed = dir.substr(0, slash);
      break;
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "PostgreSQL runs as the 'postgres' user when started by root, and that "
      "user cannot enter ",
      closed, closed == dir ? "" : absl::StrCat(" (on the way to ", dir, ")"),
      ": keep the checkout where others may enter (e.g. under /srv or /opt), "
      "point --home (SAGAWORKS_HOME) at such a directory, run as another "
      "user, or let it in with `chmod o+x ",
      closed, "`"));
}

namespace {

// What pg_hba.conf says once passwords are asked for: every connection, by
// socket or by loopback TCP.
constexpr char kPasswordHba[] =
    "# Written by sagaworks: every connection authenticates with a password.\n"
    "local all all scram-sha-256\n"
    "host all all 127.0.0.1/32 scram-sha-256\n";

// RandomPassword is 32 random bytes, hex.
absl::StatusOr<std::string> RandomPassword() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::InternalError("no random bytes for a database password");
  }
  std::string out;
  for (unsigned char b : bytes) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

}  // namespace

PostgresCluster::PostgresCluster(ClusterOptions options)
    : options_(std::move(options)) {
  if (options_.bin_dir.empty()) options_.bin_dir = DefaultPostgresBinDir();
  if (options_.auth_dir.empty()) {
    const size_t slash = options_.data_dir.rfind('/');
    options_.auth_dir = absl::StrCat(slash == std::string::npos
                                         ? std::string(".")
                                         : options_.data_dir.substr(0, slash),
                                     "/pgauth");
  }
  if (options_.log_file.empty()) {
    options_.log_file = options_.data_dir + "/postgres.log";
  }
}

std::string PostgresCluster::Bin(const std::string& tool) const {
  return absl::StrCat(options_.bin_dir, "/", tool);
}

std::vector<std::string> PostgresCluster::AsPostgres(
    std::vector<std::string> argv) const {
  return AsPostgresUser(std::move(argv));
}

bool PostgresCluster::Initialized() const {
  struct stat st;
  return stat((options_.data_dir + "/PG_VERSION").c_str(), &st) == 0;
}

std::string PostgresCluster::PasswordFile(const std::string& role) const {
  return absl::StrCat(options_.auth_dir, "/", role, ".pgpass");
}

absl::StatusOr<std::string> PostgresCluster::Password(
    const std::string& role) const {
  const std::string file = PasswordFile(role);
  if (std::optional<std::string> line = ReadFile(file)) {
    // "*:*:*:<role>:<password>"
    const size_t colon = line->rfind(':');
    std::string password = line->substr(colon + 1);
    while (!password.empty() && absl::ascii_isspace(password.back())) {
      password.pop_back();
    }
    if (colon != std::string::npos && !password.empty()) return password;
  }
  mkdir(options_.auth_dir.c_str(), 0700);
  absl::StatusOr<std::string> password = RandomPassword();
  if (!password.ok()) return password.status();
  // libpq ignores a password file others may read.
  if (absl::Status s = WriteFileAtomically(
          file, absl::StrCat("*:*:*:", role, ":", *password, "\n"), 0600);
      !s.ok()) {
    return s;
  }
  return password;
}

absl::Status PostgresCluster::Init() {
  mkdir(options_.data_dir.c_str(), 0700);
  if (absl::Status s = ChownToPostgres(options_.data_dir); !s.ok()) return s;
  // A fresh password: a data directory made again gets a new one.
  std::remove(PasswordFile(options_.superuser).c_str());
  absl::StatusOr<std::string> password = Password(options_.superuser);
  if (!password.ok()) return password.status();
  // initdb reads the password from a file it can open (as the postgres
  // user when running as root); it is removed once read.
  char pwfile[] = "/tmp/sagaworks-initdb-XXXXXX";
  const int fd = mkstemp(pwfile);
  if (fd < 0) return absl::InternalError("cannot create a temporary file");
  close(fd);
  absl::Status written = WriteFileAtomically(pwfile, *password + "\n", 0600);
  if (written.ok()) written = ChownToPostgres(pwfile);
  std::string out;
  absl::Status s =
      written.ok()
          ? Run(AsPostgres({Bin("initdb"), "-D", options_.data_dir, "-U",
                            options_.superuser, "--auth=scram-sha-256",
                            absl::StrCat("--pwfile=", pwfile),
                            "--encoding=UTF8", "--locale=C"}),
                &out)
          : written;
  std::remove(pwfile);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("initdb: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status PostgresCluster::RequirePasswords() const {
  const std::string hba_file = options_.data_dir + "/pg_hba.conf";
  const std::optional<std::string> hba = ReadFile(hba_file);
  if (hba.has_value() && *hba == kPasswordHba) return absl::OkStatus();
  if (hba.has_value() && !absl::StrContains(*hba, " trust")) {
    return absl::OkStatus();  // someone's own rules, with no trust in them
  }
  absl::StatusOr<std::string> password = Password(options_.superuser);
  if (!password.ok()) return password.status();
  try {
    // Still trusted: set the password, then ask for it.
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction tx(conn);
    tx.exec(absl::StrCat("ALTER ROLE ", tx.quote_name(options_.superuser),
                         " PASSWORD ", tx.quote(*password)));
    if (absl::Status s = WriteFileAtomically(hba_file, kPasswordHba, 0600);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ChownToPostgres(hba_file); !s.ok()) return s;
    tx.exec("SELECT pg_reload_conf()");
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "switching the cluster to password authentication: ", e.what()));
  }
  return absl::OkStatus();
}

namespace {

// The last FATAL line that a server wrote to its log past `from` (bytes;
// the log is appended to by every start): why a start failed, e.g.
// "unrecognized configuration parameter", without sending the reader to the
// log.
std::string LastFatal(const std::string& log_file, std::streamoff from) {
  std::ifstream in(log_file);
  in.seekg(from);
  std::string line, fatal;
  while (std::getline(in, line)) {
    const size_t at = line.find("FATAL:");
    if (at != std::string::npos) fatal = line.substr(at);
  }
  return fatal;
}

}  // namespace

absl::Status PostgresCluster::Start() {
  // The log file may live outside the data directory, in a folder the
  // postgres user cannot create files in: create it for them.
  { std::ofstream touch(options_.log_file, std::ios::app); }
  struct stat log_stat;
  const std::streamoff log_start =
      stat(options_.log_file.c_str(), &log_stat) == 0 ? log_stat.st_size : 0;
  if (absl::Status s = ChownToPostgres(options_.log_file); !s.ok()) return s;
  std::string server_opts =
      absl::StrCat("-c listen_addresses=127.0.0.1 -p ", options_.port, " -k ",
                   options_.data_dir, " -c max_connections=200");
  if (!options_.durable) {
    absl::StrAppend(&server_opts,
                    " -c fsync=off -c synchronous_commit=off "
                    "-c full_page_writes=off");
  }
  for (const std::string& setting : options_.settings) {
    absl::StrAppend(&server_opts, " -c ", setting);
  }
  std::string out;
  absl::Status s = Run(AsPostgres({Bin("pg_ctl"), "-D", options_.data_dir, "-l",
                                   options_.log_file, "-o", server_opts, "-w",
                                   "-t", "60", "start"}),
                       &out);
  if (!s.ok()) {
    const std::string fatal = LastFatal(options_.log_file, log_start);
    return absl::Status(
        s.code(), absl::StrCat("pg_ctl start: ",
                               fatal.empty() ? std::string(s.message()) : fatal,
                               " (see ", options_.log_file, ")"));
  }
  return RequirePasswords();
}

bool PostgresCluster::Running() const {
  // Asks about this data directory, not the port: another cluster may listen
  // there.
  if (!Initialized()) return false;
  std::string out;
  return Run(AsPostgres({Bin("pg_ctl"), "-D", options_.data_dir, "status"}),
             &out)
      .ok();
}

absl::Status PostgresCluster::Stop(bool immediate) {
  std::string out;
  return Run(AsPostgres({Bin("pg_ctl"), "-D", options_.data_dir, "-m",
                         immediate ? "immediate" : "fast", "-w", "stop"}),
             &out);
}

absl::Status PostgresCluster::CreateDatabase(const std::string& name) const {
  try {
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction tx(conn);
    pqxx::result r =
        tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name);
    if (r.empty()) tx.exec("CREATE DATABASE " + tx.quote_name(name));
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("create database ", name, ": ", e.what()));
  }
}

absl::Status PostgresCluster::CreateServiceDatabase(
    const std::string& name, const std::string& role) const {
  absl::StatusOr<std::string> password = Password(role);
  if (!password.ok()) return password.status();
  try {
    {
      pqxx::connection conn(Url("postgres"));
      pqxx::nontransaction tx(conn);
      const std::string who = tx.quote_name(role);
      const bool role_exists =
          !tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
               .empty();
      // Utility statements take no parameters; the password is hex.
      tx.exec(absl::StrCat(role_exists ? "ALTER" : "CREATE", " ROLE ", who,
                           " LOGIN PASSWORD ", tx.quote(*password)));
      const bool db_exists =
          !tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name)
               .empty();
      const std::string db = tx.quote_name(name);
      tx.exec(db_exists ? absl::StrCat("ALTER DATABASE ", db, " OWNER TO ", who)
                        : absl::StrCat("CREATE DATABASE ", db, " OWNER ", who));
      tx.exec(absl::StrCat("REVOKE ALL ON DATABASE ", db, " FROM PUBLIC"));
      if (!options_.ha_ports.empty()) {
        // libpq tries the hosts in order and gives up at one that does not
        // know the database: wait until every standby has replayed it.
        const std::string written =
            tx.exec1("SELECT pg_current_wal_insert_lsn()::text")[0]
                .as<std::string>();
        const absl::Time give_up = absl::Now() + absl::Seconds(60);
        while (tx.exec_params1("SELECT count(*) FROM pg_stat_replication "
                               "WHERE replay_lsn IS NULL OR replay_lsn < "
                               "$1::pg_lsn",
                               written)[0]
                   .as<int>() > 0) {
          if (absl::Now() > give_up) {
            return absl::UnavailableError(absl::StrCat(
                "create database ", name, ": a standby did not replay it"));
          }
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    }
    // Tables made before the role existed (by the superuser) become its
    // own, so its migrations may alter them.
    pqxx::connection conn(Url(name));
    pqxx::work tx(conn);
    pqxx::result owned = tx.exec_params(
        "SELECT format('ALTER %s %I.%I OWNER TO %I', "
        "  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' "
        "  ELSE 'TABLE' END, n.nspname, c.relname, $1::text) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v') "
        "AND pg_get_userbyid(c.relowner) <> $1 "
        // A table's own sequences (serial, identity) follow the table.
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
        "'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))",
        role);
    for (const auto& row : owned) tx.exec(row[0].as<std::string>());
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("create database ", name, " for ", role, ": ", e.what()));
  }
}

std::string PostgresCluster::Url(const std::string& database) const {
  return UrlAs(database, options_.superuser);
}

std::string PostgresCluster::ServiceUrl(const std::string& database,
                                        const std::string& role) const {
  return UrlAs(database, role);
}

std::string PostgresCluster::UrlAs(const std::string& database,
                                   const std::string& user) const {
  // Through the server's Unix-domain socket (Start puts it in the data
  // directory): every process of the local platform runs on this host, and a
  // round trip there costs both ends about a third less CPU than loopback TCP
  // (pgbench, one-row SELECT: 100,000-107,000 against 64,000-78,000 per
  // second on two cores). libpq reads a host starting with '/' as the
  // socket's directory.
  const std::string passfile =
      absl::StrCat("?passfile=", PercentEncoded(PasswordFile(user)));
  if (!options_.ha_ports.empty()) {
    std::vector<std::string> hosts;
    for (int port : options_.ha_ports) {
      hosts.push_back(absl::StrCat("127.0.0.1:", port));
    }
    return absl::StrCat("postgresql://", PercentEncoded(user), "@",
                        absl::StrJoin(hosts, ","), "/", database, passfile,
                        "&target_session_attrs=read-write");
  }
  if (absl::StartsWith(options_.data_dir, "/")) {
    return absl::StrCat("postgresql://", PercentEncoded(user), "@",
                        PercentEncoded(options_.data_dir), ":", options_.port,
                        "/", database, passfile);
  }
  return absl::StrCat("postgresql://", PercentEncoded(user),
                      "@127.0.0.1:", options_.port, "/", database, passfile);
}

}  // namespace sagaworks::local
