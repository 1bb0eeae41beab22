#include "orchestrator/orchestrator_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/grpc_reply.h"
#include "common/observability/metrics.h"
#include "common/page_token.h"
#include "common/server/authorizer.h"
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
    // Refused before anything is written: the caller keeps the order and
    // tries again. The room is held until the saga is enqueued (below).
    const std::optional<SagaRunner::Admission> admitted = runner_.Admit();
    if (!admitted.has_value()) {
      static metrics::Family& refused = metrics::Registry::Default().Counter(
          "sagaworks_saga_starts_refused_total",
          "StartSaga calls refused because the backlog was full.");
      refused.With({}).Add(1);
      // A pushback marks this as shedding, not ill health: the caller waits
      // and retries without counting it against this orchestrator. A tenth
      // of a second is several sagas' worth of a worker's time under load.
      context->AddTrailingMetadata("grpc-retry-pushback-ms", "100");
      return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
          runner_.backlog(),
          " sagas already wait here (--max-backlog); try again later")));
    }
    bool created = false;
    std::optional<SagaRecord> stored;
    // The first call's attempt is stored with the saga: it goes out without
    // a commit of its own.
    const Decision first = runner_.BeginFirstCall();
    const SagaRecord planned = store_.PlannedSaga(*request, first);
    const v1::Saga answer = Summarize(planned, planned.state);
    const idempotency::OneStatement once{
        answer,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          created = store_.CreateOnce(tx, k, planned, first);
          if (created) stored = planned;
          return created;
        }};
    grpc::Status status = idempotency_.Run<v1::Saga>(
        context, "StartSaga", *request, response, &once,
        [&](pqxx::work& tx) -> absl::StatusOr<v1::Saga> {
          absl::StatusOr<SagaRecord> record =
              store_.CreateIn(tx, *request, &created, first);
          if (!record.ok()) return record.status();
          stored = *record;
          return Summarize(*record, record->state);
        });
    // Committed: the saga may start. A replay created nothing (and answers
    // with the saga it did create).
    if (status.ok() && created && stored.has_value() &&
        stored->saga_id == response->saga_id()) {
      static metrics::Family& started = metrics::Registry::Default().Counter(
          "sagaworks_sagas_started_total", "Sagas created by StartSaga.");
      started.With({}).Add(1);
      runner_.EnqueueNew(*std::move(stored));
    }
    return status;
  });
}

grpc::Status OrchestratorServiceImpl::GetSaga(grpc::ServerContext* context,
                                              const v1::GetSagaRequest* request,
                                              v1::Saga* response) {
  return guard_.Run(context, "GetSaga", [&]() -> grpc::Status {
    if (!request->saga_id().empty() && !request->order_id().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "give saga_id or order_id, not both");
    }
    absl::Status s = request->saga_id().empty()
                         ? ValidateUuid("order_id", request->order_id())
                         : ValidateUuid("saga_id", request->saga_id());
    if (!s.ok()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat(s.message(), " (give saga_id or order_id)")));
    }
    absl::StatusOr<int> page_size = ClampPageSize(request->steps_page_size());
    if (!page_size.ok()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("steps_", page_size.status().message())));
    }
    return Reply(store_.Describe(*request, *page_size), response);
  });
}

grpc::Status OrchestratorServiceImpl::CancelSaga(
    grpc::ServerContext* context, const v1::CancelSagaRequest* request,
    v1::Saga* response) {
  return guard_.Run(context, "CancelSaga", [&]() -> grpc::Status {
    if (absl::Status s = ValidateCancel(request->order_id(), request->reason());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    std::string saga_id;
    bool changed = false;
    grpc::Status status = idempotency_.Run<v1::Saga>(
        context, "CancelSaga", *request, response,
        [&](pqxx::work& tx) -> absl::StatusOr<v1::Saga> {
          // The row lock makes a worker driving this saga wait, then find
          // its version stale and leave the saga to the compensations, which
          // this orchestrator drives: the commit takes the saga's lease.
          absl::StatusOr<SagaRecord> record =
              store_.LockByOrderIn(tx, request->order_id());
          if (absl::IsNotFound(record.status())) {
            // Not started *yet* (the order's outbox has not delivered it):
            // transient, so it must not be stored as this key's answer.
            return absl::UnavailableError(
                absl::StrCat("the saga of order ", request->order_id(),
                             " has not started yet; retry"));
          }
          if (!record.ok()) return record.status();
          const Decision cancel =
              Decide(runner_.definition(), record->state,
                     Event::Cancel(request->reason(), absl::Now()));
          if (!cancel.refused.ok()) return cancel.refused;
          changed = cancel.commit;
          if (changed) {
            absl::StatusOr<int64_t> version =
                store_.CommitIn(tx, *record, cancel.state, cancel.log,
                                cancel.due(absl::Now()), /*take_over=*/true);
            if (!version.ok()) return version.status();
          }
          saga_id = record->saga_id;
          return Summarize(*record, cancel.state);
        });
    if (status.ok() && changed) runner_.Enqueue(saga_id);
    return status;
  });
}

grpc::Status OrchestratorServiceImpl::Operate(
    grpc::ServerContext* context, const char* method,
    const google::protobuf::Message& request, const std::string& saga_id,
    const Event& event, v1::Saga* response) {
  bool changed = false;
  grpc::Status status = idempotency_.Run<v1::Saga>(
      context, method, request, response,
      [&](pqxx::work& tx) -> absl::StatusOr<v1::Saga> {
        // As in CancelSaga: a worker driving the saga waits on the row, then
        // finds its version stale; the commit takes the saga's lease.
        absl::StatusOr<SagaRecord> record = store_.LockIn(tx, saga_id);
        if (!record.ok()) return record.status();
        const Decision moved =
            Decide(runner_.definition(), record->state, event);
        if (!moved.refused.ok()) return moved.refused;
        absl::StatusOr<int64_t> version =
            store_.CommitIn(tx, *record, moved.state, moved.log,
                            moved.due(absl::Now()), /*take_over=*/true);
        if (!version.ok()) return version.status();
        changed = true;
        return Summarize(*record, moved.state);
      });
  if (status.ok() && changed) runner_.Enqueue(saga_id);
  return status;
}

namespace {

absl::Status ValidateOperatorNote(const std::string& saga_id,
                                  const std::string& note) {
  if (absl::Status s = ValidateUuid("saga_id", saga_id); !s.ok()) return s;
  return ValidateText("note", note, /*required=*/true);
}

}  // namespace

grpc::Status OrchestratorServiceImpl::RetrySaga(
    grpc::ServerContext* context, const v1::RetrySagaRequest* request,
    v1::Saga* response) {
  return guard_.Run(context, "RetrySaga", [&]() -> grpc::Status {
    if (absl::Status s =
            ValidateOperatorNote(request->saga_id(), request->note());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    return Operate(
        context, "RetrySaga", *request, request->saga_id(),
        Event::Retry(server::Caller().name, request->note(), absl::Now()),
        response);
  });
}

grpc::Status OrchestratorServiceImpl::ResolveSaga(
    grpc::ServerContext* context, const v1::ResolveSagaRequest* request,
    v1::Saga* response) {
  return guard_.Run(context, "ResolveSaga", [&]() -> grpc::Status {
    if (absl::Status s =
            ValidateOperatorNote(request->saga_id(), request->note());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    Resolution as;
    switch (request->resolution()) {
      case v1::SAGA_RESOLUTION_COMPENSATED:
        as = Resolution::kCompensated;
        break;
      case v1::SAGA_RESOLUTION_COMPLETED:
        as = Resolution::kCompleted;
        break;
      default:
        return ToGrpcStatus(absl::InvalidArgumentError(
            "resolution must be SAGA_RESOLUTION_COMPENSATED or "
            "SAGA_RESOLUTION_COMPLETED"));
    }
    return Operate(
        context, "ResolveSaga", *request, request->saga_id(),
        Event::Resolve(as, server::Caller().name, request->note(), absl::Now()),
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
