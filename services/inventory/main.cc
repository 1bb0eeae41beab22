// inventory-service: the catalog, stock levels and per-order reservations.
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/inventory/inventory_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process(platform::Service::kInventory);
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::ForService(process.info().name));
  if (!pool.ok()) return process.Fail(pool.status());

  inventory::InventoryStore store(**pool);
  auto idempotency = process.MakeIdempotency();
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  inventory::InventoryServiceImpl service(store, process.guard(),
                                          **idempotency);
  process.server().Register(&service, process.info().grpc_service);
  return process.Serve();
}
