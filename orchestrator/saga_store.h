// SagaStore: the orchestrator database (saga_instances and the append-only
// saga_steps log). The only orchestrator code that speaks SQL.
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "common/observability/trace.h"
#include "orchestrator/engine/decide.h"
#include "orchestrator/saga_log.h"
#include "sagaworks/v1/orchestrator.pb.h"

namespace sagaworks::orchestrator {

// Move: one saga's commit, as CommitAllIn takes it (pointers to the
// caller's values, which outlive the call).
struct Move {
  const SagaRecord* record = nullptr;
  const SagaState* next = nullptr;
  const std::vector<StepLogEntry>* entries = nullptr;
  absl::Time next_attempt_at;
  // Claims the saga whoever holds its lease (CancelSaga, which holds the row
  // lock).
  bool take_over = false;
};

// DefaultInstanceId names an orchestrator by host and listen port: unique
// among those running, and the same after a restart.
std::string DefaultInstanceId(const std::string& listen_address);

class SagaStore final : public SagaLog {
 public:
  // `max_batch`: saga moves committed in one statement at most;
  // `renew_chunk`: leases renewed in one statement at most.
  SagaStore(db::Pool& pool, Lease lease, int max_batch = 64,
            int renew_chunk = 1000)
      : pool_(pool),
        lease_(std::move(lease)),
        max_batch_(max_batch),
        renew_chunk_(renew_chunk) {}
  // Commits still waiting are made before it returns.
  ~SagaStore() override;

  const Lease& lease() const override { return lease_; }

  // CreateIn stores a new order saga in the caller's transaction, leased to
  // this orchestrator, in first.state (engine FirstCall: its first call
  // begun) with first.log in its timeline, so the call can go out without
  // another commit; or it returns the saga that exists for the order
  // (`*created` tells which).
  absl::StatusOr<SagaRecord> CreateIn(pqxx::work& tx,
                                      const v1::StartSagaRequest& request,
                                      bool* created, const Decision& first);

  // PlannedSaga: the saga a StartSaga request makes, with an id drawn here
  // and its first call begun.
  SagaRecord PlannedSaga(const v1::StartSagaRequest& request,
                         const Decision& first) const;

  // CreateOnce is CreateIn's one-statement form (saga_store_once.cc):
  // `planned` with first.log in its timeline and the key `k`, or nothing
  // when the order has a saga already (false; StartSaga then runs CreateIn).
  bool CreateOnce(pqxx::transaction_base& tx, const idempotency::StoredKey& k,
                  const SagaRecord& planned, const Decision& first);

  absl::StatusOr<SagaRecord> Load(const std::string& saga_id) override;

  // CommitAsync (SagaLog::CommitAsync) in one statement, made by the
  // store's committer thread, or by a caller that may wait when nothing
  // else is being committed. Moves are grouped: while one statement is
  // being committed, the moves that arrive wait and then go together in the
  // next (at most `max_batch` in one). Each `done` is called once its own
  // move is durable, on the thread that committed it; a move alone waits
  // for no one.
  void CommitAsync(const SagaRecord& record, const SagaState& next,
                   const std::vector<StepLogEntry>& entries,
                   absl::Time next_attempt_at, bool may_wait,
                   Committed done) override;
  // SetGroupWait lets the committer hold a group back for up to `wait` until
  // the moves `expected()` says are on their way (sagas whose call is out)
  // have joined it, so that at moderate load moves share a statement as
  // they do at saturation. Zero (the default): a group goes at once. Set
  // before the first commit.
  void SetGroupWait(absl::Duration wait, std::function<int()> expected) {
    group_wait_ = wait;
    expected_ = std::move(expected);
  }

  // Commit is CommitAsync waited for.
  absl::StatusOr<int64_t> Commit(const SagaRecord& record,
                                 const SagaState& next,
                                 const std::vector<StepLogEntry>& entries,
                                 absl::Time next_attempt_at) override;

  // WaitingCommits: moves waiting for a group to take them.
  int WaitingCommits() {
    absl::MutexLock lock(&commit_mu_);
    return static_cast<int>(waiting_.size());
  }

  // CommitAllIn moves several sagas in one statement inside a caller's
  // transaction; result i is moves[i]'s (its new version, or ABORTED as for
  // Commit). Each saga may appear once.
  std::vector<absl::StatusOr<int64_t>> CommitAllIn(
      pqxx::transaction_base& tx, absl::Span<const Move> moves);

  // The same for one saga. `take_over` as in Move.
  absl::StatusOr<int64_t> CommitIn(pqxx::transaction_base& tx,
                                   const SagaRecord& record,
                                   const SagaState& next,
                                   const std::vector<StepLogEntry>& entries,
                                   absl::Time next_attempt_at,
                                   bool take_over = false);

  // LockByOrderIn loads the order's saga and locks its row until the
  // transaction ends (CancelSaga); NOT_FOUND when there is none.
  absl::StatusOr<SagaRecord> LockIn(pqxx::work& tx, const std::string& saga_id);
  absl::StatusOr<SagaRecord> LockByOrderIn(pqxx::work& tx,
                                           const std::string& order_id);

  // Claim (SagaLog::Claim). Rows another transaction has locked are
  // skipped, so claimers never wait on each other.
  absl::StatusOr<DueSagas> Claim(int limit, bool include_own) override;

  // RenewLeases (SagaLog::RenewLeases), `renew_chunk` sagas a statement;
  // rows a transaction has locked are skipped (those are being committed,
  // which renews them too).
  absl::StatusOr<int64_t> RenewLeases(
      const std::vector<std::string>& held) override;

  absl::Status ReleaseLeases() override;

  absl::StatusOr<int64_t> CountStuck(absl::Duration after) override;

  // What Describe and List call stuck (SagaRunnerConfig::stuck_after); set
  // before either is used.
  void SetStuckAfter(absl::Duration after) { stuck_after_ = after; }

  // Describe returns the saga (by saga id or, when that is empty, by order
  // id) with one page of its timeline (at most `steps_page_size` entries
  // after request.steps_page_token), for GetSaga.
  absl::StatusOr<v1::Saga> Describe(const v1::GetSagaRequest& request,
                                    int steps_page_size);

  // List pages through sagas newest first, without step logs.
  absl::StatusOr<v1::ListSagasResponse> List(
      const v1::ListSagasRequest& request, int page_size);

 private:
  // A move waiting for its group.
  struct Waiting {
    Move move;
    Committed done;
    // The saga's own span of its commit, its wait included (null when the
    // move came with no trace).
    std::unique_ptr<trace::Span> span;
    absl::StatusOr<int64_t> result;
  };

  // CommitLoop is the committer thread: it takes groups until the store is
  // destroyed and nothing waits.
  void CommitLoop();
  // Flush commits `group` (flushing_ set by the caller, cleared here once
  // the statement is done) and calls each move's `done`.
  void Flush(std::vector<std::unique_ptr<Waiting>> group);
  // CommitGroup commits `group` in one statement (each alone when the group
  // as a whole fails for a reason other than an unreachable database, so
  // one bad move does not fail the others) and fills in the results.
  void CommitGroup(std::vector<Waiting*> group);

  db::Pool& pool_;
  const Lease lease_;
  const int max_batch_;
  const int renew_chunk_;
  absl::Duration stuck_after_ = absl::Minutes(5);
  absl::Duration group_wait_ = absl::ZeroDuration();
  std::function<int()> expected_;

  absl::Mutex commit_mu_;
  std::vector<std::unique_ptr<Waiting>> waiting_ ABSL_GUARDED_BY(commit_mu_);
  bool closing_ ABSL_GUARDED_BY(commit_mu_) = false;
  // A group's statement is being committed. One at a time: a move that
  // arrives meanwhile waits for the next group instead of going at once in
  // a small group of its own, since fewer, larger groups cost less CPU per
  // saga than the wait saves.
  bool flushing_ ABSL_GUARDED_BY(commit_mu_) = false;
  // Started by the first commit.
  std::thread committer_ ABSL_GUARDED_BY(commit_mu_);
};

// ToProtoStatus maps a saga status to the API enum.
v1::SagaStatus ToProtoStatus(SagaStatus status);

// Summarize is the API view of a saga in `state` (no timestamps, no step
// log): what StartSaga and CancelSaga answer.
v1::Saga Summarize(const SagaRecord& record, const SagaState& state);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_STORE_H_
