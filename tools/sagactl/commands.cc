#include "tools/sagactl/commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/client/channel.h"
#include "common/enum_names.h"
#include "common/files.h"
#include "common/idempotency/idempotency.h"
#include "common/security/token.h"
#include "common/server/grpc_server.h"
#include "common/uuid.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"

namespace sagaworks::sagactl {
namespace {

// How soon a foreground `up` notices that everything was stopped elsewhere.
constexpr absl::Duration kUpPollInterval = absl::Seconds(1);

int Error(const std::string& what, const absl::Status& status) {
  std::cerr << "sagactl: " << what << ": " << status.message() << "\n";
  return 1;
}

const char* HealthName(Health h) {
  switch (h) {
    case Health::kServing:
      return "SERVING";
    case Health::kNotServing:
      return "NOT_SERVING";
    case Health::kDown:
      return "DOWN";
  }
  return "DOWN";
}

std::unique_ptr<v1::SagaOrchestrator::Stub> OrchestratorStub(
    const std::string& address) {
  return v1::SagaOrchestrator::NewStub(DialReplicas(address));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

// Prints the orchestrator's view of the services it calls, if it answers.
void PrintDownstreams(Platform& platform) {
  auto admin = v1::AdminService::NewStub(
      Dial(platform.Address(platform::Info(platform::Service::kOrchestrator))));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::ResilienceStatus status;
  if (!admin->GetResilienceStatus(&context, {}, &status).ok()) return;
  std::printf("\n%-22s %-10s %9s %8s %8s %8s %9s\n", "ORCHESTRATOR CALLS",
              "BREAKER", "FAIL-RATE", "CALLS", "FAILED", "RETRIES", "REJECTED");
  for (const v1::DownstreamStatus& d : status.downstreams()) {
    std::string state = "closed";
    double rate = 0;
    for (const v1::BreakerStatus& b : d.breakers()) {
      // The worst breaker speaks for the downstream.
      if (b.state() != "closed") state = b.state();
      rate = std::max(rate, b.failure_rate());
    }
    std::printf("%-22s %-10s %8.0f%% %8lld %8lld %8lld %9lld\n",
                d.name().c_str(), state.c_str(), rate * 100,
                static_cast<long long>(d.calls()),
                static_cast<long long>(d.failures()),
                static_cast<long long>(d.retries()),
                static_cast<long long>(d.breaker_rejections() +
                                       d.bulkhead_rejections()));
  }
}

}  // namespace

std::string DefaultHome() {
  if (const char* env = std::getenv("SAGAWORKS_HOME"); env && *env) return env;
  return SAGAWORKS_DEFAULT_HOME;
}

int Up(Platform& platform, bool detach) {
  std::cout << "postgresql: starting on " << platform.DatabaseWhere()
            << std::endl;
  if (absl::Status s = platform.StartDatabase(); !s.ok()) {
    return Error("database", s);
  }
  if (absl::Status s = platform.RecordReplicas(); !s.ok()) {
    return Error("up", s);
  }
  std::vector<const platform::ServiceInfo*> started;
  for (const platform::ServiceInfo& spec : platform.Instances()) {
    absl::StatusOr<pid_t> pid = platform.StartService(spec);
    if (!pid.ok()) return Error(Platform::Label(spec), pid.status());
    started.push_back(&spec);
  }
  std::cout << "waiting for the services to report SERVING..." << std::endl;
  if (absl::Status s = platform.WaitServing(started); !s.ok()) {
    return Error("up", s);
  }
  PrintStatus(platform);
  std::cout << "logs: " << platform.state_dir() << "/logs/" << std::endl;
  std::cout << "TLS: grpcurl -cacert " << platform.TlsDir() << "/ca.crt ..."
            << std::endl;
  std::cout << "console: http://127.0.0.1:"
            << platform.HttpPort(
                   platform::Info(platform::Service::kOrchestrator))
            << "/console"
            << (platform.insecure()
                    ? ""
                    : " (log in with `sagactl token NAME --role operator`)")
            << std::endl;
  if (detach) return 0;
  std::cout << "running; press Ctrl-C to stop everything" << std::endl;
  // `sagactl down` from another shell stops everything too; then there is
  // nothing left to wait for (and the services it stopped, children of
  // this process, are reaped by looking: ReadPid).
  while (server::WaitForTerminationSignal(kUpPollInterval) == 0) {
    if (!platform.AnythingRunning()) {
      std::cout << "everything was stopped from elsewhere (sagactl down)"
                << std::endl;
      return 0;
    }
  }
  std::cout << "\nstopping..." << std::endl;
  return Down(platform);
}

int Down(Platform& platform) {
  int code = 0;
  // Reverse start order: the entry point first, the database last.
  for (auto it = platform.Instances().rbegin();
       it != platform.Instances().rend(); ++it) {
    if (absl::Status s = platform.StopService(*it, /*hard=*/false); !s.ok()) {
      code = Error(Platform::Label(*it), s);
    }
  }
  if (absl::Status s = platform.StopDatabase(); !s.ok()) {
    code = Error("postgresql", s);
  }
  if (code == 0) {
    // The next `up` starts what its own flags say.
    platform.ForgetTopology();
    std::cout << "stopped" << std::endl;
  }
  return code;
}

int PrintStatus(Platform& platform) {
  std::printf("%-20s %-12s %-8s %-6s %s\n", "PROCESS", "HEALTH", "PID", "PORT",
              "HTTP (/metrics, /health/ready)");
  int down = 0;
  for (const platform::ServiceInfo& spec : platform.Instances()) {
    ServiceStatus st = platform.Status(spec);
    if (st.health != Health::kServing) ++down;
    std::printf("%-20s %-12s %-8s %-6d %d\n", Platform::Label(spec).c_str(),
                HealthName(st.health),
                st.pid ? std::to_string(*st.pid).c_str() : "-",
                platform.Port(spec), platform.HttpPort(spec));
  }
  if (local::HaCluster* ha = platform.ha()) {
    for (int node = 0; node < 2; ++node) {
      std::printf("%-20s %-12s %-8s %d\n",
                  absl::StrCat("postgresql#", node + 1).c_str(),
                  ha->NodeState(node).c_str(), "-",
                  ha->options().pg_ports[node]);
    }
  } else {
    std::printf("%-20s %-12s %-8s %d\n", "postgresql",
                platform.DatabaseRunning() ? "UP" : "DOWN", "-",
                platform.cluster().options().port);
  }
  PrintDownstreams(platform);
  return down == 0 ? 0 : 3;
}

int KillService(Platform& platform, const std::string& name) {
  const platform::ServiceInfo* spec = platform.FindInstance(name);
  if (spec == nullptr) {
    std::cerr << "sagactl: unknown service '" << name << "' ("
              << platform.InstanceNames() << ")\n";
    return 2;
  }
  ServiceStatus st = platform.Status(*spec);
  if (!st.pid.has_value()) {
    std::cerr << "sagactl: " << Platform::Label(*spec) << " is not running\n";
    return 1;
  }
  if (absl::Status s = platform.StopService(*spec, /*hard=*/true); !s.ok()) {
    return Error(Platform::Label(*spec), s);
  }
  std::cout << "killed " << Platform::Label(*spec) << " (pid " << *st.pid
            << ") with SIGKILL" << std::endl;
  return 0;
}

int StartService(Platform& platform, const std::string& name) {
  const platform::ServiceInfo* spec = platform.FindInstance(name);
  if (spec == nullptr) {
    std::cerr << "sagactl: unknown service '" << name << "' ("
              << platform.InstanceNames() << ")\n";
    return 2;
  }
  if (!platform.DatabaseRunning()) {
    std::cerr << "sagactl: postgresql is not running; use 'sagactl up'\n";
    return 1;
  }
  absl::StatusOr<pid_t> pid = platform.StartService(*spec);
  if (!pid.ok()) return Error(Platform::Label(*spec), pid.status());
  if (absl::Status s = platform.WaitServing({spec}); !s.ok()) {
    return Error(Platform::Label(*spec), s);
  }
  std::cout << Platform::Label(*spec) << " SERVING (pid " << *pid << ")"
            << std::endl;
  return 0;
}

int Chaos(Platform& platform, const std::string& name,
          const ChaosOptions& options) {
  const platform::ServiceInfo* spec = platform.FindInstance(name);
  if (spec == nullptr) {
    std::cerr << "sagactl: unknown service '" << name << "' ("
              << platform.InstanceNames() << ")\n";
    return 2;
  }
  std::string method = options.method;
  if (!method.empty() && method.find('/') == std::string::npos) {
    method = absl::StrCat("/", spec->grpc_service, "/", method);
  }
  auto chaos = v1::ChaosService::NewStub(Dial(platform.Address(*spec)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ChaosState state;
  grpc::Status s;
  if (options.clear) {
    v1::ClearChaosRequest request;
    request.set_method(method);
    s = chaos->ClearChaos(&context, request, &state);
  } else {
    v1::SetChaosRequest request;
    v1::ChaosRule* rule = request.mutable_rule();
    rule->set_method(method);
    rule->set_failure_rate(options.failure_rate);
    rule->set_latency_ms(options.latency_ms);
    rule->set_code(options.code);
    s = chaos->SetChaos(&context, request, &state);
  }
  if (!s.ok()) {
    std::cerr << "sagactl: " << Platform::Label(*spec) << ": "
              << s.error_message() << "\n";
    return 1;
  }
  if (state.rules().empty()) {
    std::cout << Platform::Label(*spec) << ": no fault injection" << std::endl;
  }
  for (const v1::ChaosRule& r : state.rules()) {
    std::cout << Platform::Label(*spec) << ": "
              << (r.method().empty() ? "every method" : r.method()) << ": "
              << r.failure_rate() * 100 << "% fail with " << r.code() << ", +"
              << r.latency_ms() << " ms" << std::endl;
  }
  return 0;
}

int ListSagas(const std::string& orchestrator, const std::string& status,
              int limit, bool stuck) {
  v1::ListSagasRequest request;
  if (!status.empty()) {
    v1::SagaStatus parsed;
    if (!v1::SagaStatus_Parse("SAGA_STATUS_" + absl::AsciiStrToUpper(status),
                              &parsed)) {
      std::cerr << "sagactl: unknown status '" << status
                << "' (running, completed, compensating, compensated, "
                   "failed)\n";
      return 2;
    }
    request.set_status(parsed);
  }
  request.set_page_size(limit);
  request.set_stuck(stuck);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ListSagasResponse response;
  grpc::Status s =
      OrchestratorStub(orchestrator)->ListSagas(&context, request, &response);
  if (!s.ok()) {
    std::cerr << "sagactl: " << orchestrator << ": " << s.error_message()
              << "\n";
    return 1;
  }
  std::printf("%-36s  %-36s  %-12s  %4s  %7s  %-5s  %s\n", "SAGA", "ORDER",
              "STATUS", "STEP", "ATTEMPT", "STUCK", "REASON");
  for (const v1::Saga& saga : response.sagas()) {
    std::printf(
        "%-36s  %-36s  %-12s  %4d  %7d  %-5s  %s\n", saga.saga_id().c_str(),
        saga.order_id().c_str(),
        ShortEnumName(saga.status(), v1::SagaStatus_Name<v1::SagaStatus>,
                      "SAGA_STATUS_")
            .c_str(),
        saga.current_step(), saga.attempt(), saga.stuck() ? "yes" : "",
        saga.failure_reason().c_str());
  }
  return 0;
}

namespace {

// FindSaga answers GetSaga for `id` taken as a saga id, then as an order id
// (what a user has in hand), from `page_token` on.
grpc::Status FindSaga(v1::SagaOrchestrator::Stub& stub, const std::string& id,
                      const std::string& page_token, v1::Saga* saga) {
  v1::GetSagaRequest request;
  request.set_saga_id(id);
  request.set_steps_page_size(500);
  request.set_steps_page_token(page_token);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::Status s = stub.GetSaga(&context, request, saga);
  if (s.error_code() != grpc::StatusCode::NOT_FOUND &&
      s.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    return s;
  }
  grpc::ClientContext retry;
  retry.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  request.clear_saga_id();
  request.set_order_id(id);
  grpc::Status by_order = stub.GetSaga(&retry, request, saga);
  // Neither: the first answer says more ("no saga X").
  return by_order.error_code() == grpc::StatusCode::NOT_FOUND ? s : by_order;
}

void PrintSagaHeader(const v1::Saga& saga) {
  std::cout << "saga    " << saga.saga_id() << "\n"
            << "order   " << saga.order_id() << "\n"
            << "status  "
            << ShortEnumName(saga.status(), v1::SagaStatus_Name<v1::SagaStatus>,
                             "SAGA_STATUS_")
            << "\n"
            << "total   " << saga.total_cents() << " cents\n";
  if (!saga.failure_reason().empty()) {
    std::cout << "reason  " << saga.failure_reason() << "\n";
  }
}

void PrintTimeline(const v1::Saga& saga) {
  for (const v1::SagaStepEvent& e : saga.steps()) {
    // A call tried more than once shows when it was first tried; an
    // operator's entry shows who acted and why.
    std::string detail = e.error();
    if (e.kind() == v1::STEP_KIND_OPERATOR) {
      detail = absl::StrCat("by ", e.actor(), ": ", e.note());
    } else if (e.attempt() > 1) {
      detail = absl::StrCat("since ", FormatTime(e.first_time()),
                            detail.empty() ? "" : "; last: ", detail);
    }
    std::printf(
        "%-27s  %4d  %-12s  %-28s  %7d  %-9s  %s\n",
        FormatTime(e.time()).c_str(), e.step(),
        ShortEnumName(e.kind(), v1::StepKind_Name<v1::StepKind>, "STEP_KIND_")
            .c_str(),
        e.name().c_str(), e.attempt(),
        ShortEnumName(e.outcome(), v1::StepOutcome_Name<v1::StepOutcome>,
                      "STEP_OUTCOME_")
            .c_str(),
        detail.c_str());
  }
}

}  // namespace

int ShowSaga(const std::string& orchestrator, const std::string& id) {
  auto stub = OrchestratorStub(orchestrator);
  v1::Saga saga;
  grpc::Status s = FindSaga(*stub, id, "", &saga);
  if (!s.ok()) {
    std::cerr << "sagactl: " << s.error_message() << "\n";
    return 1;
  }
  PrintSagaHeader(saga);
  std::cout << "\n";
  std::printf("%-27s  %4s  %-12s  %-28s  %7s  %-9s  %s\n", "TIME", "STEP",
              "KIND", "CALL", "ATTEMPT", "OUTCOME", "ERROR");
  PrintTimeline(saga);
  // The rest of a long timeline, page by page.
  const std::string saga_id = saga.saga_id();
  while (!saga.next_steps_page_token().empty()) {
    const std::string token = saga.next_steps_page_token();
    saga.Clear();
    s = FindSaga(*stub, saga_id, token, &saga);
    if (!s.ok()) {
      std::cerr << "sagactl: " << s.error_message() << "\n";
      return 1;
    }
    PrintTimeline(saga);
  }
  return 0;
}

namespace {

// Act sends an operator's action (`call`) for the saga `options.id` names.
template <typename Request>
int Act(const Platform& platform, const std::string& orchestrator,
        const SagaActionOptions& options, Request request,
        grpc::Status (v1::SagaOrchestrator::Stub::*call)(grpc::ClientContext*,
                                                         const Request&,
                                                         v1::Saga*)) {
  auto stub = OrchestratorStub(orchestrator);
  v1::Saga found;
  grpc::Status s = FindSaga(*stub, options.id, "", &found);
  if (!s.ok()) {
    std::cerr << "sagactl: " << s.error_message() << "\n";
    return 1;
  }
  std::string who = options.operator_name;
  if (who.empty()) {
    const char* user = std::getenv("USER");
    who = user != nullptr && *user != '\0' ? user : "operator";
  }
  if (absl::Status v = ValidateName("--operator", who); !v.ok()) {
    std::cerr << "sagactl: " << v.message() << "\n";
    return 2;
  }
  // Plaintext platforms check no credentials; a token, if the key is there,
  // still names the operator in the timeline.
  absl::StatusOr<std::string> token =
      platform.MintToken(who, {security::kOperatorRole}, absl::Minutes(5));
  if (!token.ok() && !platform.insecure()) {
    std::cerr << "sagactl: token: " << token.status().message() << "\n";
    return 1;
  }
  request.set_saga_id(found.saga_id());
  request.set_note(options.note);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (token.ok()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", *token));
  }
  context.AddMetadata(idempotency::kKeyHeader, NewUuid());
  v1::Saga saga;
  s = ((*stub).*call)(&context, request, &saga);
  if (!s.ok()) {
    std::cerr << "sagactl: " << s.error_message() << "\n";
    return 1;
  }
  PrintSagaHeader(saga);
  return 0;
}

}  // namespace

int RetrySaga(const Platform& platform, const std::string& orchestrator,
              const SagaActionOptions& options) {
  return Act(platform, orchestrator, options, v1::RetrySagaRequest(),
             &v1::SagaOrchestrator::Stub::RetrySaga);
}

int ResolveSaga(const Platform& platform, const std::string& orchestrator,
                const SagaActionOptions& options) {
  v1::ResolveSagaRequest request;
  request.set_resolution(options.resolution == "completed"
                             ? v1::SAGA_RESOLUTION_COMPLETED
                             : v1::SAGA_RESOLUTION_COMPENSATED);
  return Act(platform, orchestrator, options, request,
             &v1::SagaOrchestrator::Stub::ResolveSaga);
}

int PrintToken(const Platform& platform, const std::string& name,
               bool operator_role, absl::Duration ttl) {
  if (absl::Status s = ValidateName("NAME", name); !s.ok()) {
    std::cerr << "sagactl: token: " << s.message() << "\n";
    return 2;
  }
  std::vector<std::string> roles;
  if (operator_role) roles.push_back(security::kOperatorRole);
  absl::StatusOr<std::string> token = platform.MintToken(name, roles, ttl);
  if (!token.ok()) {
    std::cerr << "sagactl: token: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << *token << std::endl;
  return 0;
}

}  // namespace sagaworks::sagactl
