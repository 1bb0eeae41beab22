#include "common/server/process.h"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "common/observability/otlp_exporter.h"
#include "common/observability/trace.h"
#include "common/status.h"

namespace sagaworks::server {

CLI::Validator HostPortValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        ServerConfig probe;
        probe.listen = value;
        absl::Status s = probe.Validate();
        return s.ok() ? "" : std::string(s.message());
      },
      "HOST:PORT");
}

CLI::Validator TargetValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::Status s = ValidateTarget(value);
        return s.ok() ? "" : std::string(s.message());
      },
      "TARGET");
}

std::string DescribeFlagError(const CLI::App& app, const std::string& error) {
  std::string out = error;
  for (const CLI::Option* opt : app.get_options()) {
    const std::string name = opt->get_name();  // "--db-pool-size"
    if (name.empty() || !absl::StrContains(error, name)) continue;
    if (!opt->get_envname().empty()) {
      absl::StrAppend(&out, " (set by ", name, " or environment variable ",
                      opt->get_envname(), ")");
    }
    break;
  }
  return out;
}

Process::Process(platform::Service id)
    : info_(platform::Info(id)), app_(info_.binary) {
  BlockTerminationSignals();
  // Debian builds Abseil with its mutex deadlock detector on, which keeps a
  // lock graph on every acquisition: a cost on each call, for a check that
  // belongs in tests (the unit tests keep it).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  SetLogService(info_.binary);
  server_config_.listen = platform::LocalAddress(info_);

  app_.add_option("--listen", server_config_.listen,
                  "gRPC listen address, host:port (port 0 picks one)")
      ->envname("SAGAWORKS_LISTEN")
      ->check(HostPortValidator())
      ->capture_default_str();
  http_listen_ = absl::StrCat("127.0.0.1:", info_.http_port);
  app_.add_option("--http-listen", http_listen_,
                  "HTTP address for /metrics, /health/live and /health/ready, "
                  "host:port (port 0 picks one)")
      ->envname("SAGAWORKS_HTTP_LISTEN")
      ->check(HostPortValidator())
      ->capture_default_str();
  app_.add_option("--shutdown-grace-seconds", shutdown_grace_seconds_,
                  "time in-flight calls get to finish on SIGTERM")
      ->envname("SAGAWORKS_SHUTDOWN_GRACE_SECONDS")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app_.add_option("--db-unhealthy-after-seconds", db_unhealthy_after_seconds_,
                  "how long the database must be unreachable before gRPC "
                  "health says NOT_SERVING (a failover takes less)")
      ->envname("SAGAWORKS_DB_UNHEALTHY_AFTER_SECONDS")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app_.add_option("--drain-seconds", drain_seconds_,
                  "on SIGTERM, how long to wait after reporting NOT_SERVING "
                  "for the callers watching this process's health to be told")
      ->envname("SAGAWORKS_DRAIN_SECONDS")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app_.add_option("--log-level", log_level_, "debug, info, warning or error")
      ->envname("SAGAWORKS_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  app_.add_option("--max-concurrent-calls", guard_config_.max_concurrent_calls,
                  "calls handled at once; more are shed with "
                  "RESOURCE_EXHAUSTED (0: no limit)")
      ->envname("SAGAWORKS_MAX_CONCURRENT_CALLS")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app_.add_option("--rate-limit-per-second", rate_limit_per_second_,
                  "calls per second per caller (the authenticated "
                  "principal); 0 disables")
      ->envname("SAGAWORKS_RATE_LIMIT_PER_SECOND")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  app_.add_option("--rate-limit-burst", guard_config_.rate_limit.max_tokens,
                  "calls a caller may make at once above the rate")
      ->envname("SAGAWORKS_RATE_LIMIT_BURST")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app_.add_option("--resilience-config", resilience_config_path_,
                  "JSON file overriding the resilience defaults per "
                  "downstream and method")
      ->envname("SAGAWORKS_RESILIENCE_CONFIG");
  security::TlsConfig& tls = server_config_.tls;
  app_.add_option("--tls-cert", tls.cert_file,
                  "PEM certificate this process presents (re-read when the "
                  "file changes)")
      ->envname("SAGAWORKS_TLS_CERT");
  app_.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert")
      ->envname("SAGAWORKS_TLS_KEY");
  app_.add_option("--tls-ca", tls.ca_file,
                  "PEM CA certificates that peers' certificates must chain to")
      ->envname("SAGAWORKS_TLS_CA");
  app_.add_flag("--insecure", tls.insecure,
                "plaintext gRPC, no certificates, no tokens, every method "
                "open to anyone: for debugging only")
      ->envname("SAGAWORKS_INSECURE");
  app_.add_option("--token-public-key", token_public_key_file_,
                  "PEM public key (ES256) that customers' and operators' "
                  "bearer tokens are signed with (default: token.pub beside "
                  "--tls-ca)")
      ->envname("SAGAWORKS_TOKEN_PUBLIC_KEY");
  app_.add_option("--token-issuer", auth_config_.token_issuer,
                  "the `iss` bearer tokens must carry")
      ->envname("SAGAWORKS_TOKEN_ISSUER")
      ->capture_default_str();
  app_.add_option("--token-audience", auth_config_.token_audience,
                  "the `aud` bearer tokens must carry")
      ->envname("SAGAWORKS_TOKEN_AUDIENCE")
      ->capture_default_str();
  app_.add_flag("--no-reflection", no_reflection_,
                "do not serve gRPC server reflection")
      ->envname("SAGAWORKS_NO_REFLECTION");
  app_.add_flag("--enable-chaos", enable_chaos_,
                "serve ChaosService (fault injection) to operators")
      ->envname("SAGAWORKS_ENABLE_CHAOS");
  if (!info_.database.empty()) {
    pool_config_.url = platform::LocalDatabaseUrl(info_);
    app_.add_option("--database-url", pool_config_.url,
                    "PostgreSQL connection URI of this service's database")
        ->envname("SAGAWORKS_DATABASE_URL")
        ->capture_default_str();
    app_.add_option("--db-pool-size", pool_config_.size,
                    "PostgreSQL connections kept at most")
        ->envname("SAGAWORKS_DB_POOL_SIZE")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app_.add_option("--idempotency-retention-hours",
                    idempotency_retention_hours_,
                    "how long idempotency keys are kept")
        ->envname("SAGAWORKS_IDEMPOTENCY_RETENTION_HOURS")
        ->check(CLI::Range(0.1, 24.0 * 365))
        ->capture_default_str();
    app_.add_option("--db-read-timeout-seconds", db_read_timeout_seconds_,
                    "how long one statement of a read (Get*, List*) may run "
                    "before it is cancelled with DEADLINE_EXCEEDED")
        ->envname("SAGAWORKS_DB_READ_TIMEOUT_SECONDS")
        ->check(CLI::Range(0.001, 3600.0))
        ->capture_default_str();
    app_.add_option("--db-connect-timeout-seconds", db_connect_timeout_seconds_,
                    "how long start-up waits for the database")
        ->envname("SAGAWORKS_DB_CONNECT_TIMEOUT_SECONDS")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
  }
  for (platform::Service id : info_.peers) {
    const platform::ServiceInfo& peer = platform::Info(id);
    std::string& value = peers_[peer.name];
    value = platform::LocalAddress(peer);
    app_.add_option(absl::StrCat("--", peer.name, "-address"), value,
                    absl::StrCat(peer.what,
                                 "'s replicas: host:port, "
                                 "ipv4:host:port,host:port,... or "
                                 "dns:///name:port"))
        ->envname(absl::StrCat("SAGAWORKS_", absl::AsciiStrToUpper(peer.name),
                               "_ADDRESS"))
        ->check(TargetValidator())
        ->capture_default_str();
  }
}

Process::~Process() = default;

absl::StatusOr<std::unique_ptr<idempotency::Idempotency>>
Process::MakeIdempotency() {
  if (pool_ == nullptr) {
    return absl::FailedPreconditionError("MakeIdempotency before OpenDatabase");
  }
  idempotency::IdempotencyConfig config;
  config.retention = absl::Hours(idempotency_retention_hours_);
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  auto idempotency = std::make_unique<idempotency::Idempotency>(
      *pool_, info_.grpc_service, config);
  idempotency->StartPurging();
  OnShutdown([i = idempotency.get()] { i->StopPurging(); });
  return idempotency;
}

absl::StatusOr<std::unique_ptr<resilience::Downstream>> Process::MakeDownstream(
    platform::Service id, resilience::DownstreamConfig base) {
  const platform::ServiceInfo& peer = platform::Info(id);
  absl::StatusOr<resilience::DownstreamConfig> config =
      resilience::ConfigFor(resilience_settings_, peer.name, std::move(base));
  if (!config.ok()) return config.status();
  auto downstream = std::make_unique<resilience::Downstream>(
      peer.name, *std::move(config), RealClock::Default());
  downstream->set_rpc_service(peer.grpc_service);
  admin_service_->Track(downstream.get());
  return downstream;
}

const std::string& Process::PeerAddress(platform::Service id) const {
  auto it = peers_.find(platform::Info(id).name);
  if (it == peers_.end()) {
    // A main.cc asking for a service its registry row does not call.
    std::cerr << info_.binary << ": " << platform::Info(id).name
              << " is not a peer in the service registry\n";
    std::abort();
  }
  return it->second;
}

std::optional<int> Process::ParseFlags(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app_.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    std::cerr << info_.binary << ": invalid configuration: "
              << DescribeFlagError(app_, e.what()) << "\n";
    return 2;
  }
  LogLevel level;
  ParseLogLevel(log_level_, &level);  // validated by IsMember above
  SetLogLevel(level);
  server_config_.shutdown_grace = absl::Seconds(shutdown_grace_seconds_);
  server_config_.drain = absl::Seconds(drain_seconds_);
  db_unhealthy_after_ = absl::Seconds(db_unhealthy_after_seconds_);
  if (absl::Status s = server_config_.tls.Validate(); !s.ok()) {
    std::cerr << info_.binary << ": invalid configuration: " << s.message()
              << "\n";
    return 2;
  }
  if (server_config_.tls.insecure) {
    LogWarning(absl::StrCat(info_.binary,
                            " runs plaintext (--insecure): any caller that "
                            "reaches its port may call every method"));
  }
  if (absl::Status s = LoadAuthConfig(); !s.ok()) {
    std::cerr << info_.binary << ": invalid configuration: " << s.message()
              << "\n";
    return 2;
  }
  server_config_.reflection = !no_reflection_;
  security::SetClientTls(server_config_.tls);
  pool_config_.connect_timeout = absl::Seconds(db_connect_timeout_seconds_);
  pool_config_.read_timeout = absl::Seconds(db_read_timeout_seconds_);
  if (!info_.database.empty()) {
    if (absl::Status s = pool_config_.Validate(); !s.ok()) {
      std::cerr << info_.binary << ": invalid configuration: " << s.message()
                << "\n";
      return 2;
    }
  }
  if (!resilience_config_path_.empty()) {
    std::set<std::string> known;
    for (const auto& [name, address] : peers_) known.insert(name);
    absl::StatusOr<v1::ResilienceSettings> settings =
        resilience::LoadResilienceSettings(resilience_config_path_, known);
    if (!settings.ok()) {
      std::cerr << info_.binary
                << ": invalid configuration: --resilience-config "
                << settings.status().message() << "\n";
      return 2;
    }
    resilience_settings_ = *std::move(settings);
  }
  guard_config_.rate_limit_enabled = rate_limit_per_second_ > 0;
  if (guard_config_.rate_limit_enabled) {
    // Refilled in small steps, so the rate holds within a second too.
    const double per_ms = rate_limit_per_second_ / 1000.0;
    guard_config_.rate_limit.refill =
        per_ms >= 1 ? resilience::RefillPolicy{static_cast<int64_t>(per_ms),
                                               absl::Milliseconds(1)}
                    : resilience::RefillPolicy{
                          1, absl::Seconds(1.0 / rate_limit_per_second_)};
  }
  if (absl::Status s = guard_config_.Validate(); !s.ok()) {
    std::cerr << info_.binary << ": invalid configuration: " << s.message()
              << "\n";
    return 2;
  }
  guard_ = std::make_unique<ServerGuard>(guard_config_, RealClock::Default(),
                                         &chaos_, *authorizer_);
  server_ = std::make_unique<GrpcServer>(server_config_);
  chaos_service_ =
      std::make_unique<ChaosServiceImpl>(chaos_, enable_chaos_, *authorizer_,
                                         info_.grpc_service);
  server_->Register(chaos_service_.get(),
                    v1::ChaosService::service_full_name());
  admin_service_ = std::make_unique<AdminServiceImpl>(*guard_, *authorizer_);
  server_->Register(admin_service_.get(),
                    v1::AdminService::service_full_name());
  admin_service_->ExportMetrics(metrics::Registry::Default());
  if (absl::Status s = ConfigureTracing(); !s.ok()) {
    std::cerr << info_.binary << ": invalid configuration: " << s.message()
              << "\n";
    return 2;
  }
  // Up from here on, so that probes see start-up under way (a database
  // that takes a while to answer) rather than a closed port.
  http_ = std::make_unique<metrics::HttpServer>(
      metrics::Registry::Default(),
      [this]() -> absl::Status {
        if (absl::Status s = Started(); !s.ok()) return s;
        if (draining_.load()) {
          return absl::UnavailableError("draining: shutting down");
        }
        return probe_pool_ == nullptr ? absl::OkStatus() : probe_pool_->Ping();
      },
      [this] { return Started(); });
  if (absl::Status s = http_->Start(http_listen_); !s.ok()) return Fail(s);
  return std::nullopt;
}

void Process::Starting(std::string step) {
  if (!step.empty()) Log(LogLevel::kDebug, absl::StrCat("start-up: ", step));
  absl::MutexLock lock(&start_mu_);
  starting_ = std::move(step);
}

absl::Status Process::Started() const {
  absl::MutexLock lock(&start_mu_);
  if (starting_.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("starting: ", starting_));
}

absl::Status Process::LoadAuthConfig() {
  auth_config_.insecure = server_config_.tls.insecure;
  std::string file = token_public_key_file_;
  bool defaulted = false;
  if (file.empty() && !server_config_.tls.ca_file.empty()) {
    // The local platform keeps its token key beside the CA.
    const std::string& ca = server_config_.tls.ca_file;
    const size_t slash = ca.rfind('/');
    file = absl::StrCat(
        slash == std::string::npos ? "" : ca.substr(0, slash + 1), "token.pub");
    defaulted = true;
  }
  if (!file.empty()) {
    std::optional<std::string> pem = ReadFile(file);
    if (pem.has_value()) {
      auth_config_.token_public_key_pem = *std::move(pem);
    } else if (!defaulted) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-public-key: cannot read ", file));
    }
  }
  if (auth_config_.token_public_key_pem.empty() && !auth_config_.insecure) {
    LogWarning(absl::StrCat(
        "no --token-public-key (and no ", file.empty() ? "token.pub" : file,
        "): bearer tokens are refused, so only platform certificates get in"));
  }
  absl::StatusOr<std::unique_ptr<Authorizer>> authorizer =
      Authorizer::Create(auth_config_, RealClock::Default());
  if (!authorizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--token-public-key ", file, ": ", authorizer.status().message()));
  }
  authorizer_ = *std::move(authorizer);
  return absl::OkStatus();
}

absl::StatusOr<db::Pool*> Process::OpenDatabase(
    const std::vector<db::SqlFile>& files, bool generic_plans) {
  pool_config_.generic_plans = generic_plans;
  Starting("waiting for the database");
  absl::StatusOr<std::unique_ptr<db::Pool>> pool =
      db::Pool::Create(pool_config_, TerminationSignalPending);
  if (!pool.ok()) return pool.status();
  pool_ = *std::move(pool);
  Starting("applying migrations");
  if (absl::Status s = db::ApplyMigrations(*pool_, files); !s.ok()) return s;
  Starting("opening the health probe's connection");
  // Health probes get a connection of their own: a pool busy with real work
  // is not a database that is down.
  db::PoolConfig probe = pool_config_;
  probe.size = 1;
  probe.acquire_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<db::Pool>> probe_pool =
      db::Pool::Create(probe, TerminationSignalPending);
  if (!probe_pool.ok()) return probe_pool.status();
  probe_pool_ = *std::move(probe_pool);
  Starting("setting up the service");
  return pool_.get();
}

absl::Status Process::ConfigureTracing() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v == nullptr ? "" : v);
  };
  std::string service = env("OTEL_SERVICE_NAME");
  if (service.empty()) service = info_.binary;
  absl::StatusOr<trace::Sampler> sampler = trace::Sampler::Parse(
      env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG"));
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::unique_ptr<trace::Exporter>> exporter =
      trace::ExporterFromEnvironment(service);
  if (!exporter.ok()) return exporter.status();
  tracing_ = *exporter != nullptr;
  trace::Tracer::Get().Configure(service, *sampler, *std::move(exporter));
  return absl::OkStatus();
}

void Process::StartDatabaseWatch() {
  if (probe_pool_ == nullptr) return;
  watch_ = std::thread([this] {
    bool healthy = true;
    std::optional<absl::Time> unreachable_since;
    absl::MutexLock lock(&watch_mu_);
    while (true) {
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_mu_) {
        return watch_stop_;
      };
      if (watch_mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                     absl::Seconds(2))) {
        return;
      }
      watch_mu_.Unlock();
      const absl::Status s = probe_pool_->Ping();
      if (s.ok()) {
        unreachable_since.reset();
      } else if (!unreachable_since.has_value()) {
        unreachable_since = absl::Now();
      }
      // Load balancers and sagactl read gRPC health: without its database
      // this process can answer nothing useful. Not at the first failed
      // ping, though: while the database fails over (seconds) every replica
      // loses it at once, and callers balancing by health would have none
      // left to wait on; calls made meanwhile wait for the new primary
      // (db::Pool) instead.
      if (!s.ok() && healthy &&
          absl::Now() - *unreachable_since >= db_unhealthy_after_) {
        LogWarning(absl::StrCat("database unreachable, reporting NOT_SERVING: ",
                                s.message()));
        server_->health().SetAll(
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
        healthy = false;
      } else if (s.ok() && !healthy) {
        LogInfo("database reachable again, reporting SERVING");
        server_->health().SetAll(
            grpc::health::v1::HealthCheckResponse::SERVING);
        healthy = true;
      }
      watch_mu_.Lock();
    }
  });
}

void Process::StopDatabaseWatch() {
  {
    absl::MutexLock lock(&watch_mu_);
    watch_stop_ = true;
  }
  if (watch_.joinable()) watch_.join();
}

int Process::Serve() {
  Starting("starting the gRPC server");
  if (absl::Status s = server_->Start(); !s.ok()) return Fail(s);
  Starting("");
  StartDatabaseWatch();
  LogInfo(absl::StrCat(info_.binary, " serving on port ", server_->port(),
                       ", HTTP on port ", http_->port(),
                       tracing_ ? ", exporting traces over OTLP"
                                : ", traces not exported (no "
                                  "OTEL_EXPORTER_OTLP_ENDPOINT)"));
  const int sig = WaitForTerminationSignal();
  LogInfo(absl::StrCat("signal ", sig, ": draining in-flight calls"));
  draining_ = true;
  for (auto& fn : before_drain_) fn();
  server_->Shutdown();
  StopDatabaseWatch();
  for (auto it = on_shutdown_.rbegin(); it != on_shutdown_.rend(); ++it) {
    (*it)();
  }
  http_->Stop();
  if (probe_pool_ != nullptr) probe_pool_->Close();
  if (pool_ != nullptr) pool_->Close();
  trace::Tracer::Get().Shutdown(absl::Seconds(5));
  LogInfo("stopped");
  return 0;
}

int Process::Fail(const absl::Status& status) {
  LogError(absl::StrCat("cannot start: ", DescribeStatus(status)));
  return 1;
}

}  // namespace sagaworks::server
