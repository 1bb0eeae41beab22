// SagaStore: the orchestrator database (saga_instances and the append-only
// saga_steps log). The only orchestrator code that speaks SQL.
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/pool.h"
#include "orchestrator/order_saga.h"
#include "sagaworks/v1/orchestrator.pb.h"

namespace sagaworks::orchestrator {

// SagaRecord is a saga as stored: its state, the request it runs, and the
// version that the next commit must match.
struct SagaRecord {
  std::string saga_id;
  std::string order_id;
  SagaState state;
  v1::StartSagaRequest request;
  int64_t version = 0;
};

// A step-log entry about to be appended.
struct StepLogEntry {
  int step = 0;
  std::string name;
  CallKind kind = CallKind::kAction;
  int attempt = 0;
  std::string outcome;  // "started", "succeeded", "failed", "retrying"
  std::string error;
};

class SagaStore {
 public:
  explicit SagaStore(db::Pool& pool) : pool_(pool) {}

  // Create stores a new order saga, or returns the one that exists for the
  // order (`*created` tells which).
  absl::StatusOr<SagaRecord> Create(const v1::StartSagaRequest& request,
                                    bool* created);

  // The same, inside a caller's transaction (idempotent StartSaga).
  absl::StatusOr<SagaRecord> CreateIn(pqxx::work& tx,
                                      const v1::StartSagaRequest& request,
                                      bool* created);

  absl::StatusOr<SagaRecord> Load(const std::string& saga_id);

  // Commit stores `next` and appends `entry` in one transaction, provided the
  // saga is still at `record.version` (else ABORTED: someone else moved it).
  // Returns the new version.
  absl::StatusOr<int64_t> Commit(const SagaRecord& record,
                                 const SagaState& next,
                                 const StepLogEntry& entry,
                                 absl::Time next_attempt_at);

  // The same, inside a caller's transaction.
  absl::StatusOr<int64_t> CommitIn(pqxx::work& tx, const SagaRecord& record,
                                   const SagaState& next,
                                   const StepLogEntry& entry,
                                   absl::Time next_attempt_at);

  // LockByOrderIn loads the order's saga and locks its row until the
  // transaction ends (CancelSaga); NOT_FOUND when there is none.
  absl::StatusOr<SagaRecord> LockByOrderIn(pqxx::work& tx,
                                           const std::string& order_id);

  // Unfinished lists the sagas still running or compensating, with when each
  // is due.
  absl::StatusOr<std::vector<std::pair<std::string, absl::Time>>> Unfinished();

  // Describe returns the saga (by saga id or, when that is empty, by order
  // id) with its step log, for GetSaga.
  absl::StatusOr<v1::Saga> Describe(const std::string& saga_id,
                                    const std::string& order_id);

  // List pages through sagas newest first, without step logs.
  absl::StatusOr<v1::ListSagasResponse> List(
      const v1::ListSagasRequest& request, int page_size);

 private:
  db::Pool& pool_;
};

// ToProtoStatus maps a saga status to the API enum.
v1::SagaStatus ToProtoStatus(SagaStatus status);

// Summarize is the API view of a saga in `state` (no timestamps, no step
// log): what StartSaga and CancelSaga answer.
v1::Saga Summarize(const SagaRecord& record, const SagaState& state);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_
