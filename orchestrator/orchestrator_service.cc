#include "orchestrator/orchestrator_service.h"

#include "common/grpc_reply.h"
#include "common/page_token.h"
#include "common/validation.h"

namespace sagaworks::orchestrator {

absl::Status ValidateStartSaga(const v1::StartSagaRequest& request) {
  if (absl::Status s = ValidateUuid("order_id", request.order_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateName("customer_id", request.customer_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateItems(request.items()); !s.ok()) return s;
  return ValidateAddress(request.shipping_address());
}

grpc::Status OrchestratorServiceImpl::StartSaga(
    grpc::ServerContext* context, const v1::StartSagaRequest* request,
    v1::Saga* response) {
  return guard_.Run(context, "StartSaga", [&]() -> grpc::Status {
    if (absl::Status s = ValidateStartSaga(*request); !s.ok()) {
      return ToGrpcStatus(s);
    }
    bool created = false;
    absl::StatusOr<SagaRecord> record = store_.Create(*request, &created);
    if (!record.ok()) return ToGrpcStatus(record.status());
    if (created) runner_.Enqueue(record->saga_id);
    return Reply(store_.Describe(record->saga_id, ""), response);
  });
}

grpc::Status OrchestratorServiceImpl::GetSaga(grpc::ServerContext* context,
                                              const v1::GetSagaRequest* request,
                                              v1::Saga* response) {
  return guard_.Run(context, "GetSaga", [&]() -> grpc::Status {
    absl::Status s = request->saga_id().empty()
                         ? ValidateUuid("order_id", request->order_id())
                         : ValidateUuid("saga_id", request->saga_id());
    if (!s.ok()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat(s.message(), " (give saga_id or order_id)")));
    }
    return Reply(store_.Describe(request->saga_id(), request->order_id()),
                 response);
  });
}

grpc::Status OrchestratorServiceImpl::ListSagas(
    grpc::ServerContext* context, const v1::ListSagasRequest* request,
    v1::ListSagasResponse* response) {
  return guard_.Run(context, "ListSagas", [&]() -> grpc::Status {
    if (!v1::SagaStatus_IsValid(request->status())) {
      return ToGrpcStatus(absl::InvalidArgumentError("status is not valid"));
    }
    absl::StatusOr<int> page_size = ClampPageSize(request->page_size());
    if (!page_size.ok()) return ToGrpcStatus(page_size.status());
    return Reply(store_.List(*request, *page_size), response);
  });
}

}  // namespace sagaworks::orchestrator
