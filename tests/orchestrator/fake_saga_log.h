// In-memory SagaLog for the runner's unit tests: one FakeSagaDb shared by
// any number of orchestrators (FakeSagaLog, one per lease owner), leases
// timed by a simulated clock, and failures injected into commits.
#ifndef SAGAWORKS_TESTS_ORCHESTRATOR_FAKE_SAGA_LOG_H_
#define SAGAWORKS_TESTS_ORCHESTRATOR_FAKE_SAGA_LOG_H_

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "orchestrator/saga_log.h"

namespace sagaworks::orchestrator::testing {

class FakeSagaDb {
 public:
  struct Row {
    SagaRecord record;
    std::string owner;
    absl::Time lease_until;
    absl::Time next_at;
    std::vector<StepLogEntry> log;
  };

  explicit FakeSagaDb(Clock& clock) : clock_(clock) {}

  // Create stores a new saga with its first call begun (FirstCall), leased
  // to `owner` for `lease`.
  SagaRecord Create(const std::string& saga_id, const Decision& first,
                    const std::string& owner, absl::Duration lease) {
    absl::MutexLock lock(&mu_);
    Row row;
    row.record.saga_id = saga_id;
    row.record.order_id = saga_id;
    row.record.state = first.state;
    row.record.version = 1;
    row.owner = owner;
    row.lease_until = clock_.Now() + lease;
    row.next_at = clock_.Now();
    row.log = first.log;
    rows_[saga_id] = row;
    return row.record;
  }

  Row Get(const std::string& saga_id) {
    absl::MutexLock lock(&mu_);
    return rows_.at(saga_id);
  }

  // The next `n` commits fail with `status` (before any change).
  void FailCommits(absl::Status status, int n) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < n; ++i) failures_.push_back(status);
  }

  int commits() {
    absl::MutexLock lock(&mu_);
    return commits_;
  }

 private:
  friend class FakeSagaLog;
  Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Row> rows_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> failures_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeSagaLog final : public SagaLog {
 public:
  FakeSagaLog(FakeSagaDb& db, Lease lease)
      : db_(db), lease_(std::move(lease)) {}

  const Lease& lease() const override { return lease_; }

  absl::StatusOr<SagaRecord> Load(const std::string& saga_id) override {
    if (severed_) return absl::UnavailableError("severed");
    absl::MutexLock lock(&db_.mu_);
    auto it = db_.rows_.find(saga_id);
    if (it == db_.rows_.end()) return absl::NotFoundError("no saga");
    return it->second.record;
  }

  absl::StatusOr<int64_t> Commit(const SagaRecord& record,
                                 const SagaState& next,
                                 const std::vector<StepLogEntry>& entries,
                                 absl::Time next_attempt_at) override {
    if (severed_) return absl::UnavailableError("severed");
    absl::MutexLock lock(&db_.mu_);
    if (!db_.failures_.empty()) {
      absl::Status s = db_.failures_.front();
      db_.failures_.pop_front();
      return s;
    }
    FakeSagaDb::Row& row = db_.rows_.at(record.saga_id);
    const absl::Time now = db_.clock_.Now();
    if (row.record.version != record.version ||
        (row.owner != lease_.owner && row.lease_until >= now)) {
      return LostRace(record.saga_id, record.version);
    }
    row.record.state = next;
    ++row.record.version;
    row.owner = lease_.owner;
    row.lease_until = now + lease_.duration;
    row.next_at = next_attempt_at;
    row.log.insert(row.log.end(), entries.begin(), entries.end());
    ++db_.commits_;
    return row.record.version;
  }

  absl::StatusOr<DueSagas> Claim(int limit, bool include_own) override {
    if (severed_) return absl::UnavailableError("severed");
    absl::MutexLock lock(&db_.mu_);
    const absl::Time now = db_.clock_.Now();
    DueSagas out;
    for (auto& [id, row] : db_.rows_) {
      if (IsTerminal(row.record.state.status)) continue;
      if (row.lease_until < now || (include_own && row.owner == lease_.owner)) {
        row.owner = lease_.owner;
        row.lease_until = now + lease_.duration;
        out.emplace_back(id, row.next_at);
      }
      if (static_cast<int>(out.size()) >= limit) break;
    }
    return out;
  }

  absl::StatusOr<int64_t> RenewLeases(
      const std::vector<std::string>& held) override {
    if (severed_) return absl::UnavailableError("severed");
    absl::MutexLock lock(&db_.mu_);
    int64_t renewed = 0;
    for (const std::string& id : held) {
      auto it = db_.rows_.find(id);
      if (it == db_.rows_.end() || it->second.owner != lease_.owner ||
          IsTerminal(it->second.record.state.status)) {
        continue;
      }
      it->second.lease_until = db_.clock_.Now() + lease_.duration;
      ++renewed;
    }
    return renewed;
  }

  // Sever cuts this orchestrator off (its process died): everything it
  // asks of the log from now on fails, and its leases stay as they are.
  void Sever() { severed_ = true; }

  absl::Status ReleaseLeases() override {
    if (severed_) return absl::UnavailableError("severed");
    absl::MutexLock lock(&db_.mu_);
    for (auto& [id, row] : db_.rows_) {
      if (row.owner == lease_.owner) {
        row.lease_until = db_.clock_.Now() - absl::Microseconds(1);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> CountStuck(absl::Duration) override { return 0; }

 private:
  FakeSagaDb& db_;
  const Lease lease_;
  std::atomic<bool> severed_{false};
};

}  // namespace sagaworks::orchestrator::testing

#endif  // SAGAWORKS_TESTS_ORCHESTRATOR_FAKE_SAGA_LOG_H_
