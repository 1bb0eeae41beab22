// payment-service: customer balances, one charge per order, refunds.
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/payment/payment_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process(platform::Service::kPayment);
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::ForService(process.info().name));
  if (!pool.ok()) return process.Fail(pool.status());

  payment::PaymentStore store(**pool);
  auto idempotency = process.MakeIdempotency();
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  payment::PaymentServiceImpl service(store, process.guard(), **idempotency);
  process.server().Register(&service, process.info().grpc_service);
  return process.Serve();
}
