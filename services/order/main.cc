// order-service: stores orders and hands each to the saga orchestrator
// through a transactional outbox.
#include "common/client/channel.h"
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/order/order_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process({"order-service", 50051, "orders"});
  std::string orchestrator_address = "127.0.0.1:50055";
  std::string inventory_address = "127.0.0.1:50053";
  std::string payment_address = "127.0.0.1:50052";
  CLI::App& app = process.app();
  const auto address = server::HostPortValidator();
  app.add_option("--orchestrator-address", orchestrator_address,
                 "saga orchestrator, host:port")
      ->envname("SAGAWORKS_ORCHESTRATOR_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--inventory-address", inventory_address,
                 "inventory service, host:port (SKU check)")
      ->envname("SAGAWORKS_INVENTORY_ADDRESS")
      ->check(address)
      ->capture_default_str();
  app.add_option("--payment-address", payment_address,
                 "payment service, host:port (customer check)")
      ->envname("SAGAWORKS_PAYMENT_ADDRESS")
      ->check(address)
      ->capture_default_str();
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::order());
  if (!pool.ok()) return process.Fail(pool.status());

  order::OrderStore store(**pool);
  order::OutboxRelay relay(
      store, v1::SagaOrchestrator::NewStub(Dial(orchestrator_address)), {});
  order::CatalogCheck catalog(
      v1::InventoryService::NewStub(Dial(inventory_address)),
      v1::PaymentService::NewStub(Dial(payment_address)), absl::Seconds(1));
  order::OrderServiceImpl service(store, relay, catalog,
                                  absl::Milliseconds(200));
  process.server().Register(&service, "sagaworks.v1.OrderService");
  process.BeforeDrain([&service] { service.StopWatches(); });
  process.OnShutdown([&relay] { relay.Stop(); });
  relay.Start();
  return process.Serve();
}
