// Cost of the resilience chain, measured side by side in one run:
//   - a unary call on loopback, bare, against the same call through the full
//     client pipeline (Downstream) and server guard (ServiceGuard);
//   - the same chained call over mutual TLS with a bearer token, as a
//     customer's call arrives;
//   - the chain's CPU per call without the network (client pipeline around a
//     no-op attempt, plus guard admission);
//   - the authentication and authorization checks' own CPU, with a token
//     already verified once (cached);
//   - the same with tracing on and its collector dead;
//   - a call rejected by an open breaker.
// At the end it prints the median latency ratio of chained to bare calls.
//
//   build/bin/resilience_bench
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/client/channel.h"
#include "common/local/subprocess.h"
#include "common/observability/otlp_exporter.h"
#include "common/observability/trace.h"
#include "common/resilience/downstream.h"
#include "common/security/certificates.h"
#include "common/security/tls.h"
#include "common/security/token.h"
#include "common/server/guard.h"
#include "common/server/policy.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"

namespace sagaworks {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The same trivial handler, with and without the server guard.
class BareService final : public Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest*,
                     HealthCheckResponse* response) override {
    response->set_status(HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

class GuardedService final : public Health::Service {
 public:
  explicit GuardedService(server::ServerGuard& guard)
      : guard_(guard, "grpc.health.v1.Health") {}
  grpc::Status Check(grpc::ServerContext* context, const HealthCheckRequest*,
                     HealthCheckResponse* response) override {
    return guard_.Run(context, "Check", [&] {
      response->set_status(HealthCheckResponse::SERVING);
      return grpc::Status::OK;
    });
  }

 private:
  server::ServiceGuard guard_;
};

struct Server {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<Health::Stub> stub;
};

Server Start(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  Server s;
  s.server = builder.BuildAndStart();
  s.stub = Health::NewStub(Dial("127.0.0.1:" + std::to_string(port)));
  return s;
}

// Tls is workload `name`'s configuration under a CA made once, in a
// temporary directory, for this run.
security::TlsConfig Tls(const std::string& name) {
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/sagaworks-bench-tls-XXXXXX";
    static const std::string* made = new std::string(mkdtemp(tmpl));
    // The keys go with the run.
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*made, ignored);
    });
    return made;
  }();
  static const security::KeyPair* ca = [] {
    const absl::Time now = absl::Now();
    auto made = security::CreateAuthority("bench CA", now - absl::Hours(1),
                                          now + absl::Hours(24));
    auto* pair = new security::KeyPair(*made);
    std::ofstream(*dir + "/ca.crt") << pair->cert_pem;
    return pair;
  }();
  const absl::Time now = absl::Now();
  auto pair = security::Issue(*ca, {name,
                                    security::SpiffeId(name),
                                    {"localhost"},
                                    {"127.0.0.1"},
                                    now - absl::Hours(1),
                                    now + absl::Hours(24)});
  std::ofstream(*dir + "/" + name + ".key") << pair->key_pem;
  std::ofstream(*dir + "/" + name + ".crt") << pair->cert_pem;
  return {*dir + "/" + name + ".crt", *dir + "/" + name + ".key",
          *dir + "/ca.crt"};
}

// StartMtls is Start with mutual TLS on both ends, as between the
// platform's processes.
Server StartMtls(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0",
                           security::ServerCredentials(Tls("server")), &port);
  builder.RegisterService(service);
  Server s;
  s.server = builder.BuildAndStart();
  s.stub = Health::NewStub(
      grpc::CreateChannel("localhost:" + std::to_string(port),
                          security::ChannelCredentials(Tls("client"))));
  return s;
}

// The local signing key and a customer's token, made once for this run.
const security::SigningKey& TokenKey() {
  static const security::SigningKey* key =
      new security::SigningKey(*security::CreateSigningKey());
  return *key;
}

const std::string& CustomerToken() {
  static const std::string* token = new std::string(*security::MintToken(
      TokenKey().private_pem, "alice", {}, absl::Now(), absl::Hours(1)));
  return *token;
}

// Guard is the server guard without the trust boundary (--insecure);
// SecureGuard the one every platform process runs, verifying tokens.
server::ServerGuard& MakeGuard(bool secure) {
  server::AuthConfig auth;
  auth.insecure = !secure;
  if (secure) auth.token_public_key_pem = TokenKey().public_pem;
  auto* authorizer =
      server::Authorizer::Create(auth, RealClock::Default())->release();
  return *new server::ServerGuard({}, RealClock::Default(),
                                  new resilience::FaultInjector(), *authorizer);
}

server::ServerGuard& Guard() {
  static server::ServerGuard& guard = MakeGuard(false);
  return guard;
}

server::ServerGuard& SecureGuard() {
  static server::ServerGuard& guard = MakeGuard(true);
  return guard;
}

void BM_UnaryBare(benchmark::State& state) {
  static BareService* service = new BareService();
  static Server* s = new Server(Start(service));
  HealthCheckRequest request;
  HealthCheckResponse response;
  for (auto _ : state) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    grpc::Status status = s->stub->Check(&context, request, &response);
    if (!status.ok()) state.SkipWithError("call failed");
  }
}

void RunChained(benchmark::State& state, Server& s,
                resilience::CallOptions options = {}) {
  static resilience::Downstream* downstream =
      new resilience::Downstream("health", {}, RealClock::Default(), 1);
  HealthCheckRequest request;
  HealthCheckResponse response;
  for (auto _ : state) {
    absl::Status status =
        downstream->Call("Check", options, [&](grpc::ClientContext& context) {
          return s.stub->Check(&context, request, &response);
        });
    if (!status.ok()) state.SkipWithError("call failed");
  }
}

void BM_UnaryChained(benchmark::State& state) {
  static GuardedService* service = new GuardedService(Guard());
  static Server* s = new Server(Start(service));
  RunChained(state, *s);
}

// The same chained call over mutual TLS (one connection, so the handshake
// is paid once: what a long-lived channel between two processes costs),
// carrying a customer's bearer token that the server verifies.
void BM_UnaryChainedMtls(benchmark::State& state) {
  static GuardedService* service = new GuardedService(SecureGuard());
  static Server* s = new Server(StartMtls(service));
  resilience::CallOptions options;
  options.metadata = {{"authorization", "Bearer " + CustomerToken()}};
  RunChained(state, *s, options);
}

// The chain's own work, without the network: the client pipeline around an
// attempt that does nothing, and the server guard's admission.
void RunChain(benchmark::State& state) {
  resilience::Downstream downstream("noop", {}, RealClock::Default(), 1);
  server::ServiceGuard guard(Guard(), "grpc.health.v1.Health");
  grpc::ServerContext server_context;
  for (auto _ : state) {
    absl::Status status =
        downstream.Call("Check", {}, [&](grpc::ClientContext&) {
          return guard.Run(&server_context, "Check",
                           [] { return grpc::Status::OK; });
        });
    benchmark::DoNotOptimize(status);
  }
}

void BM_ChainCpuOnly(benchmark::State& state) { RunChain(state); }

// The same with tracing on: every span sampled, recorded and handed to an
// exporter whose collector is dead (nothing listens on its port). Requests
// must not wait for it: the queue fills, and the rest is dropped and counted.
void BM_ChainCpuTracedDeadCollector(benchmark::State& state) {
  absl::StatusOr<int> port = local::FreePort();
  if (!port.ok()) {
    state.SkipWithError("no free port");
    return;
  }
  trace::OtlpExporterConfig config;
  config.endpoint = absl::StrCat("127.0.0.1:", *port);
  trace::Tracer::Get().Configure(
      "bench", trace::Sampler{},
      std::make_unique<trace::OtlpExporter>(config, "bench"));
  auto root = trace::Tracer::Get().StartSpan("bench", trace::SpanKind::kServer);
  trace::ScopedContext in(root->context());
  RunChain(state);
  trace::Tracer::Get().Shutdown(absl::ZeroDuration());
}

// What authentication and authorization add to a call, once its token has
// been verified: the token cache's look-up, the policy check for the method
// and the principal's key (the scope of its rate limit and idempotency keys).
void BM_AuthCheckCpu(benchmark::State& state) {
  security::TokenVerifierConfig config;
  config.public_key_pem = TokenKey().public_pem;
  security::TokenVerifier verifier(config, RealClock::Default());
  const std::string& token = CustomerToken();
  (void)verifier.Verify(token);
  for (auto _ : state) {
    absl::StatusOr<security::Claims> claims = verifier.Verify(token);
    const security::Principal caller =
        security::Principal::Customer(claims->subject);
    absl::Status allowed =
        server::Check("/sagaworks.v1.OrderService/GetOrder", caller);
    std::string key = caller.Key();
    benchmark::DoNotOptimize(allowed);
    benchmark::DoNotOptimize(key);
  }
}

void BM_OpenBreakerRejection(benchmark::State& state) {
  resilience::DownstreamConfig config;
  config.breaker.consecutive_failures = 1;
  config.breaker.open_wait = absl::Hours(1);
  config.call.retry.max_attempts = 1;
  resilience::Downstream downstream("dead", config, RealClock::Default(), 1);
  (void)downstream.Call("Check", {}, [](grpc::ClientContext&) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  });
  for (auto _ : state) {
    absl::Status status = downstream.Call(
        "Check", {}, [](grpc::ClientContext&) { return grpc::Status::OK; });
    benchmark::DoNotOptimize(status);
  }
}

// main() turns on random interleaving: the repetitions of the bare and the
// chained call are run in shuffled order, so drift in the machine's load hits
// both alike.
BENCHMARK(BM_UnaryBare)->Repetitions(7)->UseRealTime();
BENCHMARK(BM_UnaryChained)->Repetitions(7)->UseRealTime();
BENCHMARK(BM_UnaryChainedMtls)->Repetitions(7)->UseRealTime();
BENCHMARK(BM_ChainCpuOnly);
BENCHMARK(BM_ChainCpuTracedDeadCollector);
BENCHMARK(BM_AuthCheckCpu);
BENCHMARK(BM_OpenBreakerRejection);

// Prints, after the usual table, the chained/bare ratio of median latencies.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const std::string& name = run.run_name.function_name;
      if (run.aggregate_name == "median") {
        medians_[name] = run.GetAdjustedRealTime();
        cpu_median_[name] = run.GetAdjustedCPUTime();
      } else if (run.aggregate_name == "cv") {
        cv_[name] = run.real_accumulated_time;  // a fraction, not a time
      } else if (run.aggregate_name.empty()) {
        cpu_[name] = run.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto bare = medians_.find("BM_UnaryBare");
    auto chained = medians_.find("BM_UnaryChained");
    if (bare == medians_.end() || chained == medians_.end()) return;
    const double ratio = chained->second / bare->second;
    std::printf(
        "\nmedian unary call on loopback: bare %.1f us, through the full "
        "chain %.1f us: ratio %.3f (%+.1f%%); run-to-run variation of the "
        "bare call %.0f%%\n",
        bare->second / 1000, chained->second / 1000, ratio, (ratio - 1) * 100,
        cv_["BM_UnaryBare"] * 100);
    if (auto mtls = medians_.find("BM_UnaryChainedMtls");
        mtls != medians_.end()) {
      std::printf(
          "the chained call over mutual TLS with a bearer token: %.1f us "
          "against %.1f us plaintext: ratio %.3f (%+.1f%%); the calling "
          "thread's CPU per "
          "call %.1f us against %.1f us\n",
          mtls->second / 1000, chained->second / 1000,
          mtls->second / chained->second,
          (mtls->second / chained->second - 1) * 100,
          cpu_median_["BM_UnaryChainedMtls"] / 1000,
          cpu_median_["BM_UnaryChained"] / 1000);
    }
    if (cpu_.count("BM_ChainCpuOnly") > 0) {
      const double chain_ns = cpu_["BM_ChainCpuOnly"];
      std::printf(
          "the chain's own CPU per call: %.0f ns = %.2f%% of the bare call's "
          "median latency\n",
          chain_ns, chain_ns / bare->second * 100);
    }
    if (cpu_.count("BM_ChainCpuTracedDeadCollector") > 0) {
      std::printf(
          "the same with every span recorded and exported to a dead "
          "collector: %.0f ns\n",
          cpu_["BM_ChainCpuTracedDeadCollector"]);
    }
    if (cpu_.count("BM_AuthCheckCpu") > 0) {
      std::printf(
          "authentication and authorization with a cached token: %.0f ns "
          "per call (target: under 2000 ns)\n",
          cpu_["BM_AuthCheckCpu"]);
    }
    if (cpu_.count("BM_OpenBreakerRejection") > 0) {
      std::printf("a call refused by an open breaker: %.0f ns\n",
                  cpu_["BM_OpenBreakerRejection"]);
    }
  }

 private:
  std::map<std::string, double> medians_, cpu_median_, cv_, cpu_;
};

}  // namespace
}  // namespace sagaworks

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  args.insert(args.begin() + 1, interleave);  // later flags still win
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  sagaworks::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
