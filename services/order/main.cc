// order-service: stores orders and hands each to the saga orchestrator
// through a transactional outbox.
#include "common/client/channel.h"
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/order/order_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  using platform::Service;
  server::Process process(Service::kOrder);
  double catalog_cache_seconds = 30, catalog_stale_seconds = 3600;
  order::WatchConfig watch;
  double watch_max_seconds = absl::ToDoubleSeconds(watch.max_lifetime);
  int64_t watch_poll_ms = absl::ToInt64Milliseconds(watch.poll_interval);
  process.app()
      .add_option("--watch-max-seconds", watch_max_seconds,
                  "how long one WatchOrder stream may stay open; then it "
                  "ends with UNAVAILABLE and the client watches again")
      ->envname("SAGAWORKS_WATCH_MAX_SECONDS")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  process.app()
      .add_option("--watch-poll-ms", watch_poll_ms,
                  "how often a WatchOrder stream looks at its order for a "
                  "change another replica made (this one's own changes wake "
                  "it at once)")
      ->envname("SAGAWORKS_WATCH_POLL_MS")
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}))
      ->capture_default_str();
  process.app()
      .add_option("--max-watches-per-caller", watch.max_per_caller,
                  "WatchOrder streams one caller may hold open at once")
      ->envname("SAGAWORKS_MAX_WATCHES_PER_CALLER")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  process.app()
      .add_option("--catalog-cache-seconds", catalog_cache_seconds,
                  "how long a customer or SKU confirmed by its service counts "
                  "as existing without asking again (0: ask on every order)")
      ->envname("SAGAWORKS_CATALOG_CACHE_SECONDS")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  process.app()
      .add_option("--catalog-stale-seconds", catalog_stale_seconds,
                  "while payment or inventory cannot be reached, orders for "
                  "customers and SKUs confirmed within this time are still "
                  "accepted (the saga has the final word); others are "
                  "refused with UNAVAILABLE")
      ->envname("SAGAWORKS_CATALOG_STALE_SECONDS")
      ->check(CLI::Range(0.0, 30.0 * 86400.0))
      ->capture_default_str();
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::ForService(process.info().name));
  if (!pool.ok()) return process.Fail(pool.status());

  auto to_orchestrator = process.MakeDownstream(Service::kOrchestrator);
  auto to_inventory = process.MakeDownstream(Service::kInventory);
  auto to_payment = process.MakeDownstream(Service::kPayment);
  for (const auto* d : {&to_orchestrator, &to_inventory, &to_payment}) {
    if (!d->ok()) return process.Fail(d->status());
  }
  order::OrderStore store(**pool);
  // One client for the orchestrator: the relay starts sagas, CancelOrder
  // cancels them.
  resilience::Client<v1::SagaOrchestrator::StubInterface> sagas{
      v1::SagaOrchestrator::NewStub(
          DialReplicas(process.PeerAddress(Service::kOrchestrator))),
      *std::move(to_orchestrator)};
  order::OrchestratorStarter starter(sagas);
  order::OutboxRelay relay(store, starter, RealClock::Default(), {});
  order::CatalogCheck catalog({v1::InventoryService::NewStub(DialReplicas(
                                   process.PeerAddress(Service::kInventory))),
                               *std::move(to_inventory)},
                              {v1::PaymentService::NewStub(DialReplicas(
                                   process.PeerAddress(Service::kPayment))),
                               *std::move(to_payment)},
                              absl::Seconds(1),
                              {absl::Seconds(catalog_cache_seconds),
                               absl::Seconds(catalog_stale_seconds), 100000});
  auto idempotency = process.MakeIdempotency();
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  watch.max_lifetime = absl::Seconds(watch_max_seconds);
  watch.poll_interval = absl::Milliseconds(watch_poll_ms);
  if (absl::Status s = watch.Validate(); !s.ok()) return process.Fail(s);
  order::OrderServiceImpl service(store, relay, catalog, watch, process.guard(),
                                  **idempotency, sagas);
  process.server().Register(&service, process.info().grpc_service);
  process.BeforeDrain([&service] { service.StopWatches(); });
  process.OnShutdown([&relay] { relay.Stop(); });
  if (absl::Status s = relay.Start(); !s.ok()) return process.Fail(s);
  return process.Serve();
}
