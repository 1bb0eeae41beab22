// PaymentServiceImpl: the gRPC adapter of the payment service.
#ifndef SAGAWORKS_SERVICES_PAYMENT_PAYMENT_SERVICE_H_
#define SAGAWORKS_SERVICES_PAYMENT_PAYMENT_SERVICE_H_

#include "common/idempotency/idempotency.h"
#include "common/server/guard.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "services/payment/payment_store.h"

namespace sagaworks::payment {

// The largest single charge accepted: ten million currency units.
inline constexpr int64_t kMaxChargeCents = 1'000'000'000;

// ValidateCharge checks a Charge request before any work.
absl::Status ValidateCharge(const v1::ChargeRequest& request);

class PaymentServiceImpl final : public v1::PaymentService::Service {
 public:
  PaymentServiceImpl(PaymentStore& store, server::ServerGuard& guard,
                     idempotency::Idempotency& idempotency)
      : guard_(guard, v1::PaymentService::service_full_name()),
        idempotency_(idempotency),
        store_(store) {}

  grpc::Status Charge(grpc::ServerContext* context,
                      const v1::ChargeRequest* request,
                      v1::Charge* response) override;
  grpc::Status Refund(grpc::ServerContext* context,
                      const v1::RefundRequest* request,
                      v1::Charge* response) override;
  grpc::Status GetBalance(grpc::ServerContext* context,
                          const v1::GetBalanceRequest* request,
                          v1::Balance* response) override;

 private:
  server::ServiceGuard guard_;
  idempotency::Idempotency& idempotency_;
  PaymentStore& store_;
};

}  // namespace sagaworks::payment

#endif  // SAGAWORKS_SERVICES_PAYMENT_PAYMENT_SERVICE_H_
