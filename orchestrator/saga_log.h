// SagaLog: what the runner needs from where sagas are kept (SagaStore, over
// PostgreSQL; an in-memory fake in unit tests).
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_LOG_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orchestrator/engine/decide.h"
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
  // The W3C traceparent of the call that started the saga, or empty.
  std::string traceparent;
};

// Lease: how an orchestrator claims the sagas it drives, so that several can
// share one database and a dead one's sagas pass to the others.
struct Lease {
  // Who holds the lease; stable across restarts of one instance, so a
  // restarted orchestrator takes its own sagas back at once.
  std::string owner;
  // How long a claim lasts without renewal (database time).
  absl::Duration duration = absl::Seconds(10);

  absl::Status Validate() const;
};

// IsLostRace tells a commit refused because someone else moved the saga
// (its version or lease changed: whoever did drives it now) from a database
// failure, which may be ABORTED too (a lock timeout, a deadlock) and after
// which the saga must run again.
bool IsLostRace(const absl::Status& status);
// LostRace is the status of such a refusal.
absl::Status LostRace(const std::string& saga_id, int64_t version);

class SagaLog {
 public:
  using DueSagas = std::vector<std::pair<std::string, absl::Time>>;

  virtual ~SagaLog() = default;

  virtual const Lease& lease() const = 0;

  virtual absl::StatusOr<SagaRecord> Load(const std::string& saga_id) = 0;

  // Commit stores `next` and appends `entries` to the step log at once, and
  // renews this orchestrator's lease on the saga. It fails with LostRace
  // unless the saga is still at `record.version` and its lease is this
  // orchestrator's, free or expired. Returns the new version.
  virtual absl::StatusOr<int64_t> Commit(
      const SagaRecord& record, const SagaState& next,
      const std::vector<StepLogEntry>& entries, absl::Time next_attempt_at) = 0;

  using Committed = std::function<void(absl::StatusOr<int64_t>)>;
  // CommitAsync is Commit with its result given to `done`, on any thread
  // (`done` must not block); `record`, `next` and `entries` stay valid until
  // then. `may_wait`: the calling thread may wait for the commit itself (a
  // worker's, not a completion's). This one commits on the calling thread.
  virtual void CommitAsync(const SagaRecord& record, const SagaState& next,
                           const std::vector<StepLogEntry>& entries,
                           absl::Time next_attempt_at, bool /*may_wait*/,
                           Committed done) {
    done(Commit(record, next, entries, next_attempt_at));
  }

  // Claim leases up to `limit` unfinished sagas that no live orchestrator
  // holds (never leased, or the lease expired, this orchestrator's own
  // included), soonest due first, and returns them with when each is due.
  // With `include_own` it also takes back sagas leased to this owner whose
  // lease is still live (at start, after a restart).
  virtual absl::StatusOr<DueSagas> Claim(int limit, bool include_own) = 0;

  // RenewLeases extends this owner's lease on the unfinished sagas in
  // `held` (those it is driving or has scheduled); returns how many. A saga
  // it holds a lease on but not in memory lets its lease run out, and the
  // next Claim, here or elsewhere, picks it up.
  virtual absl::StatusOr<int64_t> RenewLeases(
      const std::vector<std::string>& held) = 0;

  // ReleaseLeases lets every lease this owner holds expire now, so that other
  // orchestrators take its sagas over without waiting (graceful stop).
  virtual absl::Status ReleaseLeases() = 0;

  // CountStuck counts the unfinished sagas whose current call has been
  // retrying, or that have been due without being driven, longer than
  // `after`.
  virtual absl::StatusOr<int64_t> CountStuck(absl::Duration after) = 0;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_LOG_H_
