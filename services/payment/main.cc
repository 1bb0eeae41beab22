// payment-service: customer balances, one charge per order, refunds.
#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/payment/payment_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process({"payment-service", 50052, "payments", 9452});
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::payment());
  if (!pool.ok()) return process.Fail(pool.status());

  payment::PaymentStore store(**pool);
  auto idempotency = process.MakeIdempotency("sagaworks.v1.PaymentService");
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  payment::PaymentServiceImpl service(store, process.guard(), **idempotency);
  process.server().Register(&service, "sagaworks.v1.PaymentService");
  return process.Serve();
}
