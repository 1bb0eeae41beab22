#include "tools/sagactl/platform.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/client/channel.h"
#include "common/db/migrate.h"
#include "common/db/pool.h"
#include "common/files.h"
#include "common/local/subprocess.h"
#include "common/security/token.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "httplib.h"
#include "migrations/embedded.h"
#include "tools/sagactl/certs.h"

namespace sagaworks::sagactl {
namespace {

std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  const size_t from = all.size() > static_cast<size_t>(lines)
                          ? all.size() - static_cast<size_t>(lines)
                          : 0;
  return absl::StrJoin(all.begin() + static_cast<long>(from), all.end(), "\n");
}

// HaRecorded: `sagactl up --ha` started this home's platform.
bool HaRecorded(const std::string& state_dir) {
  return access((state_dir + "/ha").c_str(), F_OK) == 0;
}

local::HaOptions HaOptionsFor(const std::string& state_dir,
                              const PlatformOptions& options) {
  local::HaOptions ha;
  ha.dir = state_dir + "/ha";
  ha.auth_dir = state_dir + "/pgauth";
  ha.durable = options.durable_db;
  if (!options.insecure) ha.tls_dir = state_dir + "/tls";
  if (!options.ha_pg_ports.empty()) ha.pg_ports = options.ha_pg_ports;
  if (!options.ha_rest_ports.empty()) ha.rest_ports = options.ha_rest_ports;
  if (options.etcd_port > 0) ha.etcd_port = options.etcd_port;
  if (options.etcd_peer_port > 0) ha.etcd_peer_port = options.etcd_peer_port;
  return ha;
}

local::ClusterOptions ClusterOptionsFor(const std::string& state_dir,
                                        const PlatformOptions& options,
                                        bool ha) {
  local::ClusterOptions cluster;
  cluster.data_dir = state_dir + "/pgdata";
  cluster.port = options.pg_port;
  cluster.log_file = state_dir + "/logs/postgres.log";
  cluster.durable = options.durable_db;
  cluster.settings = options.db_settings;
  if (ha) cluster.ha_ports = HaOptionsFor(state_dir, options).pg_ports;
  return cluster;
}

}  // namespace

Health CheckHealth(const std::string& address, absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(Dial(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (!s.ok()) return Health::kDown;
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? Health::kServing
             : Health::kNotServing;
}

Platform::Platform(PlatformOptions options)
    : options_(std::move(options)),
      state_dir_(options_.home + "/.sagaworks"),
      cluster_(ClusterOptionsFor(state_dir_, options_,
                                 options_.ha || HaRecorded(state_dir_))) {
  if (options_.ha || HaRecorded(state_dir_)) {
    options_.ha = true;
    ha_ =
        std::make_unique<local::HaCluster>(HaOptionsFor(state_dir_, options_));
  }
  replicas_ = options_.replicas;
  if (replicas_ <= 0) {
    std::ifstream in(state_dir_ + "/replicas");
    if (!(in >> replicas_) || replicas_ < 1 || replicas_ > kMaxReplicas) {
      replicas_ = 1;
    }
  }
  for (const platform::ServiceInfo& spec : platform::Services()) {
    for (int k = 1; k <= replicas_; ++k) {
      platform::ServiceInfo instance = spec;
      instance.port = Port(spec);
      instance.http_port = HttpPort(spec);
      if (k > 1) {
        instance.name = absl::StrCat(spec.name, "#", k);
        instance.port += (k - 1) * kReplicaPortStep;
        instance.http_port += (k - 1) * kReplicaPortStep;
      }
      instances_.push_back(std::move(instance));
    }
  }
}

bool Platform::DatabaseRunning() const {
  return ha_ != nullptr ? ha_->Running() : cluster_.Running();
}

std::string Platform::DatabaseWhere() const {
  if (ha_ == nullptr) {
    return absl::StrCat("127.0.0.1:", cluster_.options().port, " (data in ",
                        cluster_.options().data_dir, ")");
  }
  return absl::StrCat(
      "127.0.0.1:", absl::StrJoin(ha_->options().pg_ports, ",127.0.0.1:"),
      ", a primary and a synchronous standby under Patroni (data in ",
      ha_->options().dir, ")");
}

absl::Status Platform::RecordReplicas() const {
  mkdir(state_dir_.c_str(), 0755);
  if (options_.ha) {
    std::ofstream(state_dir_ + "/ha") << "patroni\n";
  } else {
    unlink((state_dir_ + "/ha").c_str());
  }
  std::ofstream out(state_dir_ + "/replicas");
  out << replicas_ << "\n";
  if (!out.flush()) {
    return absl::InternalError(
        absl::StrCat("cannot write ", state_dir_, "/replicas"));
  }
  return absl::OkStatus();
}

void Platform::ForgetTopology() const {
  unlink((state_dir_ + "/replicas").c_str());
  unlink((state_dir_ + "/ha").c_str());
}

std::string Platform::Label(const platform::ServiceInfo& instance) {
  const size_t hash = instance.name.find('#');
  return hash == std::string::npos
             ? instance.binary
             : absl::StrCat(instance.binary, instance.name.substr(hash));
}

const platform::ServiceInfo* Platform::FindInstance(
    const std::string& name) const {
  for (const platform::ServiceInfo& instance : instances_) {
    if (instance.name == name || Label(instance) == name) return &instance;
  }
  return nullptr;
}

std::string Platform::InstanceNames() const {
  std::vector<std::string> names;
  for (const platform::ServiceInfo& instance : instances_) {
    names.push_back(instance.name);
  }
  return absl::StrJoin(names, ", ");
}

std::string Platform::Target(const platform::ServiceInfo& service) const {
  std::vector<std::string> addresses;
  for (const platform::ServiceInfo& instance : instances_) {
    if (instance.id == service.id) addresses.push_back(Address(instance));
  }
  if (addresses.size() <= 1) return Address(service);
  return absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
}

int Platform::Port(const platform::ServiceInfo& spec) const {
  auto it = options_.ports.find(spec.name);
  return it == options_.ports.end() ? spec.port : it->second;
}

int Platform::HttpPort(const platform::ServiceInfo& spec) const {
  auto it = options_.http_ports.find(spec.name);
  return it == options_.http_ports.end() ? spec.http_port : it->second;
}

std::string Platform::Address(const platform::ServiceInfo& spec) const {
  return absl::StrCat("127.0.0.1:", Port(spec));
}

std::string Platform::LogPath(const std::string& name) const {
  return absl::StrCat(state_dir_, "/logs/", name, ".log");
}

std::string Platform::PidPath(const platform::ServiceInfo& spec) const {
  return absl::StrCat(state_dir_, "/run/", spec.name, ".pid");
}

absl::Status Platform::StartDatabase() {
  for (const std::string& dir :
       {state_dir_, state_dir_ + "/logs", state_dir_ + "/run"}) {
    mkdir(dir.c_str(), 0755);
  }
  if (absl::Status s = local::CheckPostgresCanEnter(state_dir_); !s.ok()) {
    return s;
  }
  if (ha_ != nullptr) {
    if (absl::Status s = ha_->Start(); !s.ok()) return s;
  } else {
    if (!cluster_.Initialized()) {
      if (absl::Status s = cluster_.Init(); !s.ok()) return s;
    }
    if (!cluster_.Running()) {
      if (absl::Status s = cluster_.Start(); !s.ok()) return s;
    }
  }
  for (const platform::ServiceInfo& spec : platform::Services()) {
    if (absl::Status s = cluster_.CreateServiceDatabase(
            spec.database, platform::DatabaseRole(spec));
        !s.ok()) {
      return s;
    }
    // As the service's role, so that what the migrations make is its own.
    db::PoolConfig config;
    config.url =
        cluster_.ServiceUrl(spec.database, platform::DatabaseRole(spec));
    config.size = 1;
    auto pool = db::Pool::Create(config);
    if (!pool.ok()) return pool.status();
    if (absl::Status s =
            db::ApplyMigrations(**pool, migrations::ForService(spec.name));
        !s.ok()) {
      return s;
    }
    // Demo data files are named after the service whose database they fill.
    for (const auto& file : migrations::demo()) {
      if (file.first == spec.name + ".sql") {
        if (absl::Status s = db::ApplySeed(**pool, file); !s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

security::TlsConfig Platform::TlsFor(const std::string& name) const {
  security::TlsConfig tls;
  tls.insecure = options_.insecure;
  if (!tls.insecure) {
    tls.cert_file = absl::StrCat(TlsDir(), "/", name, ".crt");
    tls.key_file = absl::StrCat(TlsDir(), "/", name, ".key");
    tls.ca_file = absl::StrCat(TlsDir(), "/ca.crt");
  }
  return tls;
}

absl::StatusOr<std::string> Platform::MintToken(
    const std::string& subject, const std::vector<std::string>& roles,
    absl::Duration ttl) const {
  const std::string path = TlsDir() + "/token.key";
  const std::optional<std::string> key = ReadFile(path);
  if (!key.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, " (sagactl up makes it)"));
  }
  return security::MintToken(*key, subject, roles, absl::Now(), ttl);
}

absl::StatusOr<std::string> Platform::Bearer(const std::string& subject) {
  if (options_.insecure) return std::string();
  absl::MutexLock lock(&bearer_mu_);
  auto it = bearers_.find(subject);
  if (it != bearers_.end() &&
      it->second.second - absl::Now() > absl::Minutes(5)) {
    return it->second.first;
  }
  constexpr absl::Duration kTtl = absl::Hours(1);
  absl::StatusOr<std::string> token = MintToken(subject, {}, kTtl);
  if (!token.ok()) return token.status();
  std::string value = absl::StrCat("Bearer ", *token);
  bearers_[subject] = {value, absl::Now() + kTtl};
  return value;
}

absl::Status Platform::SetUpTls() {
  if (!options_.insecure) {
    if (absl::Status s =
            WriteCertificates(TlsDir(), CertificateNames(), absl::Now());
        !s.ok()) {
      return s;
    }
  }
  security::SetClientTls(TlsFor(kSagactlIdentity));
  return absl::OkStatus();
}

absl::Status Platform::StopDatabase() {
  if (ha_ != nullptr) return ha_->Stop();
  if (!cluster_.Running()) return absl::OkStatus();
  return cluster_.Stop();
}

std::optional<pid_t> Platform::ReadPid(
    const platform::ServiceInfo& spec) const {
  std::ifstream in(PidPath(spec));
  std::string text;
  int pid = 0;
  if (!std::getline(in, text) || !absl::SimpleAtoi(text, &pid) || pid <= 0 ||
      !local::IsAlive(pid)) {
    return std::nullopt;
  }
  return pid;
}

absl::StatusOr<pid_t> Platform::StartService(
    const platform::ServiceInfo& spec) {
  if (std::optional<pid_t> pid = ReadPid(spec)) return *pid;
  // A service may start before the database (it waits for it).
  for (const std::string& dir :
       {state_dir_, state_dir_ + "/logs", state_dir_ + "/run"}) {
    mkdir(dir.c_str(), 0755);
  }
  local::SpawnOptions spawn;
  // A second copy of a service (a test's second orchestrator, under a name
  // of its own) is the same workload, with the same certificate.
  const security::TlsConfig tls = TlsFor(platform::Info(spec.id).name);
  spawn.argv = {
      absl::StrCat(options_.bin_dir, "/", spec.binary),
      absl::StrCat("--listen=", Address(spec)),
      absl::StrCat("--http-listen=127.0.0.1:", HttpPort(spec)),
      absl::StrCat(
          "--database-url=",
          cluster_.ServiceUrl(spec.database,
                              platform::DatabaseRole(platform::Info(spec.id)))),
      // A local stack is for breaking things on purpose.
      "--enable-chaos"};
  if (tls.insecure) {
    spawn.argv.push_back("--insecure");
  } else {
    spawn.argv.push_back(absl::StrCat("--tls-cert=", tls.cert_file));
    spawn.argv.push_back(absl::StrCat("--tls-key=", tls.key_file));
    spawn.argv.push_back(absl::StrCat("--tls-ca=", tls.ca_file));
  }
  for (platform::Service id : spec.peers) {
    const platform::ServiceInfo& peer = platform::Info(id);
    spawn.argv.push_back(
        absl::StrCat("--", peer.name, "-address=", Target(peer)));
  }
  if (auto it = options_.extra_args.find(spec.name);
      it != options_.extra_args.end()) {
    spawn.argv.insert(spawn.argv.end(), it->second.begin(), it->second.end());
  }
  spawn.log_file = LogPath(spec.name);
  absl::StatusOr<pid_t> pid = local::Spawn(spawn);
  if (!pid.ok()) return pid.status();
  std::ofstream(PidPath(spec)) << *pid << "\n";
  return pid;
}

absl::Status Platform::WaitServing(
    const std::vector<const platform::ServiceInfo*>& specs) {
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  std::vector<const platform::ServiceInfo*> waiting = specs;
  while (!waiting.empty()) {
    std::vector<const platform::ServiceInfo*> still;
    for (const platform::ServiceInfo* spec : waiting) {
      if (!ReadPid(*spec).has_value()) {
        return absl::UnavailableError(absl::StrCat(
            spec->binary, " exited during start-up. End of ",
            LogPath(spec->name), ":\n", Tail(LogPath(spec->name), 15)));
      }
      if (CheckHealth(Address(*spec), absl::Milliseconds(500)) !=
          Health::kServing) {
        still.push_back(spec);
      }
    }
    waiting.swap(still);
    if (waiting.empty()) break;
    if (absl::Now() > deadline) {
      std::vector<std::string> names;
      for (const platform::ServiceInfo* s : waiting) names.push_back(s->binary);
      // The first one's log usually says why (a port taken, a database
      // refusing), which saves a trip to a directory that may be gone.
      const platform::ServiceInfo& first = *waiting.front();
      return absl::DeadlineExceededError(absl::StrCat(
          "not SERVING after ", absl::FormatDuration(options_.ready_timeout),
          ": ", absl::StrJoin(names, ", "), " (see ", state_dir_,
          "/logs/). End of ", LogPath(first.name), ":\n",
          Tail(LogPath(first.name), 15)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::OkStatus();
}

absl::Status Platform::StopService(const platform::ServiceInfo& spec,
                                   bool hard) {
  std::optional<pid_t> pid = ReadPid(spec);
  absl::Status s = absl::OkStatus();
  if (pid.has_value()) {
    s = hard ? local::Kill(*pid) : local::Terminate(*pid, absl::Seconds(15));
  }
  if (s.ok()) unlink(PidPath(spec).c_str());
  return s;
}

bool Platform::AnythingRunning() const {
  if (DatabaseRunning()) return true;
  for (const platform::ServiceInfo& spec : instances_) {
    if (ReadPid(spec).has_value()) return true;
  }
  return false;
}

absl::StatusOr<std::string> Platform::MetricsPage(
    const platform::ServiceInfo& spec) const {
  httplib::Client client("127.0.0.1", HttpPort(spec));
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(spec.binary, ": no /metrics on port ", HttpPort(spec)));
  }
  return res->body;
}

ServiceStatus Platform::Status(const platform::ServiceInfo& spec) const {
  ServiceStatus status{&spec, ReadPid(spec), Health::kDown};
  status.health = CheckHealth(Address(spec), absl::Milliseconds(500));
  return status;
}

}  // namespace sagaworks::sagactl
