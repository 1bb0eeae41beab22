// saga-orchestrator: runs the order saga for each order, persisting every
// transition, and compensates when a step fails.
#include "common/client/channel.h"
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "orchestrator/console.h"
#include "orchestrator/orchestrator_service.h"
#include "orchestrator/order_saga.h"
#include "orchestrator/participants.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  using platform::Service;
  server::Process process(Service::kOrchestrator);
  orchestrator::SagaRunnerConfig config;
  double group_wait_ms = 2;
  double call_timeout_s = 2, step_timeout_s = 10, lease_s = 10,
         claim_interval_s = 1, stuck_after_s = 300;
  std::string instance_id;
  orchestrator::ConsoleConfig console_config;
  console_config.jaeger_url = "http://localhost:16686";
  CLI::App& app = process.app();
  app.add_option("--workers", config.workers,
                 "threads that start sagas that are due (and load them)")
      ->envname("SAGAWORKS_WORKERS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--max-in-flight", config.max_in_flight,
                 "sagas driven at once (a call out or a commit waiting); no "
                 "thread is held while they wait")
      ->envname("SAGAWORKS_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-backlog", config.max_backlog,
                 "sagas waiting here at which StartSaga answers "
                 "RESOURCE_EXHAUSTED and expired leases are left to other "
                 "orchestrators (0: no limit)")
      ->envname("SAGAWORKS_MAX_BACKLOG")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  app.add_option("--commit-group-wait-ms", group_wait_ms,
                 "how long a saga's commit may wait for the commits of sagas "
                 "whose call is out, to share one statement with them (fewer "
                 "commits at moderate load, for up to this much latency per "
                 "step)")
      ->envname("SAGAWORKS_COMMIT_GROUP_WAIT_MS")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--call-timeout-seconds", call_timeout_s,
                 "deadline of one attempt of a call to a service")
      ->envname("SAGAWORKS_CALL_TIMEOUT_SECONDS")
      ->check(CLI::Range(0.001, 600.0))
      ->capture_default_str();
  app.add_option("--step-timeout-seconds", step_timeout_s,
                 "how long a step retries transient failures before the saga "
                 "compensates")
      ->envname("SAGAWORKS_STEP_TIMEOUT_SECONDS")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  app.add_option("--instance-id", instance_id,
                 "this orchestrator's name on the saga leases it holds; "
                 "default <hostname>:<listen port>. Keep it across restarts, "
                 "so a restarted orchestrator takes its sagas back at once")
      ->envname("SAGAWORKS_INSTANCE_ID");
  app.add_option("--saga-lease-seconds", lease_s,
                 "how long a saga stays with an orchestrator that stopped "
                 "renewing its lease, before another takes it over")
      ->envname("SAGAWORKS_SAGA_LEASE_SECONDS")
      ->check(CLI::Range(0.3, 3600.0))
      ->capture_default_str();
  app.add_option("--claim-interval-seconds", claim_interval_s,
                 "how often to look for sagas whose lease expired")
      ->envname("SAGAWORKS_CLAIM_INTERVAL_SECONDS")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  app.add_option("--stuck-after-seconds", stuck_after_s,
                 "a saga whose call has been retrying, or that has been due "
                 "without being driven, this long counts as stuck "
                 "(sagaworks_sagas_stuck, sagactl sagas list --stuck)")
      ->envname("SAGAWORKS_STUCK_AFTER_SECONDS")
      ->check(CLI::Range(1.0, 30.0 * 86400))
      ->capture_default_str();
  app.add_option("--jaeger-url", console_config.jaeger_url,
                 "base URL of the trace viewer the operator console links "
                 "each saga's trace to (<url>/trace/<trace id>); empty: no "
                 "links")
      ->envname("SAGAWORKS_JAEGER_URL")
      ->capture_default_str();
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  config.stuck_after = absl::Seconds(stuck_after_s);
  if (instance_id.empty()) {
    instance_id = orchestrator::DefaultInstanceId(process.listen_address());
  }
  orchestrator::Lease lease{instance_id, absl::Seconds(lease_s)};
  if (absl::Status s = lease.Validate(); !s.ok()) return process.Fail(s);
  config.claim_interval = absl::Seconds(claim_interval_s);
  if (absl::Status s = config.Validate(); !s.ok()) return process.Fail(s);
  orchestrator::SagaPolicy timing;
  timing.step_timeout = absl::Seconds(step_timeout_s);
  orchestrator::SagaDefinition definition =
      orchestrator::OrderSagaDefinition(timing);
  if (absl::Status s = definition.Validate(); !s.ok()) {
    return process.Fail(s);
  }
  resilience::DownstreamConfig calls;
  calls.call.attempt_timeout = absl::Seconds(call_timeout_s);
  calls.call.total_timeout = 3 * calls.call.attempt_timeout;
  // A saga has one call out at most, so sagas in flight bound the calls to
  // each service: a bulkhead with as many slots is never full. One made
  // smaller (--resilience-config) queues calls rather than failing them: a
  // refused attempt sleeps out a backoff, and under a long overload enough
  // of those run a step past its deadline, and its order is rejected.
  calls.bulkhead.max_concurrent = config.max_in_flight;
  calls.bulkhead.max_wait = calls.call.attempt_timeout;
  if (absl::Status s = calls.Validate(); !s.ok()) return process.Fail(s);

  // Generic plans: see db::PoolConfig::generic_plans.
  auto pool = process.OpenDatabase(migrations::ForService(process.info().name),
                                   /*generic_plans=*/true);
  if (!pool.ok()) return process.Fail(pool.status());

  orchestrator::ParticipantStubs stubs;
  for (const auto& [peer, client] :
       {std::pair{Service::kInventory, &stubs.inventory.downstream},
        std::pair{Service::kPayment, &stubs.payment.downstream},
        std::pair{Service::kShipping, &stubs.shipping.downstream},
        std::pair{Service::kOrder, &stubs.order.downstream}}) {
    auto downstream = process.MakeDownstream(peer, calls);
    if (!downstream.ok()) return process.Fail(downstream.status());
    *client = *std::move(downstream);
  }
  stubs.inventory.stub = v1::InventoryService::NewStub(
      DialReplicas(process.PeerAddress(Service::kInventory)));
  stubs.payment.stub = v1::PaymentService::NewStub(
      DialReplicas(process.PeerAddress(Service::kPayment)));
  stubs.shipping.stub = v1::ShippingService::NewStub(
      DialReplicas(process.PeerAddress(Service::kShipping)));
  stubs.order.stub = v1::OrderService::NewStub(
      DialReplicas(process.PeerAddress(Service::kOrder)));
  std::unique_ptr<orchestrator::BoundParticipants> participants =
      orchestrator::OrderSagaParticipants(std::move(stubs));
  if (absl::Status s = orchestrator::CheckBindings(definition, *participants);
      !s.ok()) {
    return process.Fail(s);
  }
  orchestrator::SagaStore store(**pool, lease);
  store.SetStuckAfter(config.stuck_after);
  orchestrator::SagaRunner runner(store, std::move(definition), *participants,
                                  RealClock::Default(), config);
  store.SetGroupWait(absl::Microseconds(group_wait_ms * 1000),
                     [&runner] { return runner.calls_out(); });
  auto idempotency = process.MakeIdempotency();
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  orchestrator::OrchestratorServiceImpl service(store, runner, process.guard(),
                                                **idempotency);
  process.server().Register(&service, process.info().grpc_service);

  // The operator console on the HTTP port: its API calls this process's
  // services and its peers' as the operator who is logged in.
  console_config.insecure = process.insecure();
  console_config.services["orchestrator"] =
      orchestrator::LoopbackAddress(process.listen_address());
  for (Service peer : process.info().peers) {
    console_config.services[platform::Info(peer).name] =
        process.PeerAddress(peer);
  }
  if (absl::Status s = console_config.Validate(); !s.ok()) {
    return process.Fail(s);
  }
  orchestrator::Console console(console_config);
  process.http().Mount("/console", [&console](const auto& request) {
    return console.Handle(request);
  });
  process.OnShutdown([&runner] { runner.Stop(); });
  if (absl::Status s = runner.Start(); !s.ok()) return process.Fail(s);
  return process.Serve();
}
