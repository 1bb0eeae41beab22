#include "services/payment/payment_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_reply.h"
#include "common/validation.h"

namespace sagaworks::payment {

absl::Status ValidateCharge(const v1::ChargeRequest& request) {
  if (absl::Status s = ValidateUuid("order_id", request.order_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateName("customer_id", request.customer_id());
      !s.ok()) {
    return s;
  }
  if (request.amount_cents() <= 0 || request.amount_cents() > kMaxChargeCents) {
    return absl::InvalidArgumentError(
        absl::StrCat("amount_cents is ", request.amount_cents(),
                     "; it must be between 1 and ", kMaxChargeCents));
  }
  return absl::OkStatus();
}

grpc::Status PaymentServiceImpl::Charge(grpc::ServerContext* context,
                                        const v1::ChargeRequest* request,
                                        v1::Charge* response) {
  return guard_.Run(context, "Charge", [&]() -> grpc::Status {
    if (absl::Status s = ValidateCharge(*request); !s.ok()) {
      return ToGrpcStatus(s);
    }
    const v1::Charge charge = PlannedCharge(
        request->order_id(), request->customer_id(), request->amount_cents());
    const idempotency::OneStatement once{
        charge,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_.ChargeOnce(tx, k, charge);
        }};
    return idempotency_.Run<v1::Charge>(
        context, "Charge", *request, response, &once, [&](pqxx::work& tx) {
          return store_.ChargeIn(tx, request->order_id(),
                                 request->customer_id(),
                                 request->amount_cents());
        });
  });
}

grpc::Status PaymentServiceImpl::Refund(grpc::ServerContext* context,
                                        const v1::RefundRequest* request,
                                        v1::Charge* response) {
  return guard_.Run(context, "Refund", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    return idempotency_.Run<v1::Charge>(
        context, "Refund", *request, response, [&](pqxx::work& tx) {
          return store_.RefundIn(tx, request->order_id());
        });
  });
}

grpc::Status PaymentServiceImpl::GetBalance(
    grpc::ServerContext* context, const v1::GetBalanceRequest* request,
    v1::Balance* response) {
  return guard_.Run(context, "GetBalance", [&]() -> grpc::Status {
    if (absl::Status s = ValidateName("customer_id", request->customer_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (!server::Caller().MaySee(request->customer_id())) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat(server::Caller().Key(),
                                       " may read only its own balance"));
    }
    return Reply(store_.GetBalance(request->customer_id()), response);
  });
}

}  // namespace sagaworks::payment
