// OrchestratorServiceImpl: the gRPC adapter of the saga orchestrator.
#ifndef SAGAWORKS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define SAGAWORKS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include "common/idempotency/idempotency.h"
#include "common/server/guard.h"
#include "orchestrator/saga_runner.h"
#include "orchestrator/saga_store.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"

namespace sagaworks::orchestrator {

// ValidateStartSaga checks a StartSaga request before anything is stored.
absl::Status ValidateStartSaga(const v1::StartSagaRequest& request);

class OrchestratorServiceImpl final : public v1::SagaOrchestrator::Service {
 public:
  OrchestratorServiceImpl(SagaStore& store, SagaRunner& runner,
                          server::ServerGuard& guard,
                          idempotency::Idempotency& idempotency)
      : guard_(guard, v1::SagaOrchestrator::service_full_name()),
        idempotency_(idempotency),
        store_(store),
        runner_(runner) {}

  grpc::Status StartSaga(grpc::ServerContext* context,
                         const v1::StartSagaRequest* request,
                         v1::Saga* response) override;
  grpc::Status GetSaga(grpc::ServerContext* context,
                       const v1::GetSagaRequest* request,
                       v1::Saga* response) override;
  grpc::Status CancelSaga(grpc::ServerContext* context,
                          const v1::CancelSagaRequest* request,
                          v1::Saga* response) override;
  grpc::Status ListSagas(grpc::ServerContext* context,
                         const v1::ListSagasRequest* request,
                         v1::ListSagasResponse* response) override;
  grpc::Status RetrySaga(grpc::ServerContext* context,
                         const v1::RetrySagaRequest* request,
                         v1::Saga* response) override;
  grpc::Status ResolveSaga(grpc::ServerContext* context,
                           const v1::ResolveSagaRequest* request,
                           v1::Saga* response) override;

 private:
  // Operate applies an operator's action (`event`) to saga `saga_id` under
  // the idempotency key, the saga's row locked, and hands the saga to this
  // orchestrator's runner.
  grpc::Status Operate(grpc::ServerContext* context, const char* method,
                       const google::protobuf::Message& request,
                       const std::string& saga_id, const Event& event,
                       v1::Saga* response);

  server::ServiceGuard guard_;
  idempotency::Idempotency& idempotency_;
  SagaStore& store_;
  SagaRunner& runner_;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
