// saga-orchestrator: runs the order saga for each order, persisting every
// transition, and compensates when a step fails.
#include "common/client/channel.h"
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "orchestrator/orchestrator_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process({"saga-orchestrator", 50055, "orchestrator"});
  std::string order_address = "127.0.0.1:50051";
  std::string payment_address = "127.0.0.1:50052";
  std::string inventory_address = "127.0.0.1:50053";
  std::string shipping_address = "127.0.0.1:50054";
  orchestrator::SagaRunnerConfig config;
  double call_timeout_s = 3, step_timeout_s = 10;
  CLI::App& app = process.app();
  const auto address = server::HostPortValidator();
  app.add_option("--order-address", order_address, "order service, host:port")
      ->envname("SAGAWORKS_ORDER_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--payment-address", payment_address,
                 "payment service, host:port")
      ->envname("SAGAWORKS_PAYMENT_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--inventory-address", inventory_address,
                 "inventory service, host:port")
      ->envname("SAGAWORKS_INVENTORY_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--shipping-address", shipping_address,
                 "shipping service, host:port")
      ->envname("SAGAWORKS_SHIPPING_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--workers", config.workers, "sagas driven at once (threads)")
      ->envname("SAGAWORKS_WORKERS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--call-timeout-seconds", call_timeout_s,
                 "longest one call to a service may take")
      ->envname("SAGAWORKS_CALL_TIMEOUT_SECONDS")
      ->check(CLI::Range(0.001, 600.0))
      ->capture_default_str();
  app.add_option("--step-timeout-seconds", step_timeout_s,
                 "how long a step retries transient failures before the saga "
                 "compensates")
      ->envname("SAGAWORKS_STEP_TIMEOUT_SECONDS")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  config.call_timeout = absl::Seconds(call_timeout_s);
  config.policy.step_timeout = absl::Seconds(step_timeout_s);
  if (absl::Status s = config.Validate(); !s.ok()) return process.Fail(s);

  auto pool = process.OpenDatabase(migrations::orchestrator());
  if (!pool.ok()) return process.Fail(pool.status());

  orchestrator::GrpcParticipants participants(
      {v1::InventoryService::NewStub(Dial(inventory_address)),
       v1::PaymentService::NewStub(Dial(payment_address)),
       v1::ShippingService::NewStub(Dial(shipping_address)),
       v1::OrderService::NewStub(Dial(order_address))});
  orchestrator::SagaStore store(**pool);
  orchestrator::SagaRunner runner(store, participants, RealClock::Default(),
                                  config);
  orchestrator::OrchestratorServiceImpl service(store, runner);
  process.server().Register(&service, "sagaworks.v1.SagaOrchestrator");
  process.OnShutdown([&runner] { runner.Stop(); });
  if (absl::Status s = runner.Start(); !s.ok()) return process.Fail(s);
  return process.Serve();
}
