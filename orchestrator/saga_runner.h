// SagaRunner: drives sagas through their calls. Before each call goes out it
// commits the attempt; after the call it commits the outcome, together with
// the next call's attempt when one follows at once, so a saga of four calls
// costs five commits here.
//
// It is driven by completions: a saga's call goes out without holding a
// thread, and the thread that receives the answer decides what follows and
// hands the commit to the store, whose committer thread starts the next
// call once the commit is durable. Sagas waiting out a backoff hold
// nothing but their place in the scheduler's queue; worker threads only
// start sagas that are due (loading them when needed).
//
// Several orchestrators may share one database: each drives only sagas it
// holds a lease on, renews its leases while it runs, and claims sagas whose
// lease expired (their orchestrator died). On start it takes back its own
// unfinished sagas at once and re-sends their last call, which the services
// answer idempotently.
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/observability/trace.h"
#include "orchestrator/engine/decide.h"
#include "orchestrator/engine/saga_definition.h"
#include "orchestrator/participants.h"
#include "orchestrator/saga_log.h"
#include "orchestrator/scheduler.h"

namespace sagaworks::orchestrator {

struct SagaRunnerConfig {
  // Threads that start sagas that are due (and load them).
  int workers = 4;
  // Sagas driven at once (a call out, or a commit waiting); the others
  // wait their turn in the queue. A saga has one call out at most, so this
  // also bounds the calls to each downstream (whose bulkhead should have as
  // many slots).
  int max_in_flight = 64;
  // Wait before retrying after the orchestrator's own database failed.
  absl::Duration store_retry = absl::Seconds(1);
  // How often to look for sagas whose lease expired, and how many to claim
  // at a time.
  absl::Duration claim_interval = absl::Seconds(1);
  int claim_batch = 100;
  // Sagas held but not being driven (due, or waiting out a backoff) at which
  // StartSaga refuses new ones with RESOURCE_EXHAUSTED (the order service's
  // relay keeps them and tries again) and sagas whose lease expired are left
  // to other orchestrators: an orchestrator that falls behind stops taking
  // work instead of growing its memory and the leases it renews without
  // bound. Its own unfinished sagas are all resumed at start regardless.
  // 0: no limit.
  int max_backlog = 10000;
  // A saga is stuck when its current call has been retrying, or it has been
  // due without being driven, this long (sagaworks_sagas_stuck, ListSagas
  // with stuck set).
  absl::Duration stuck_after = absl::Minutes(5);
  // How often the stuck sagas are counted for the metric.
  absl::Duration stuck_count_interval = absl::Seconds(15);
  uint64_t seed = std::random_device{}();
  // False: Start() starts no thread; the caller drives the runner with
  // RunDue() and Tick() (unit tests, in simulated time).
  bool start_threads = true;

  absl::Status Validate() const;
};

class SagaRunner {
 public:
  // `definition` must be valid and every call of it bound (CheckBindings).
  SagaRunner(SagaLog& store, SagaDefinition definition,
             Participants& participants, Clock& clock, SagaRunnerConfig config);
  ~SagaRunner();

  // Start starts the workers, schedules every unfinished saga this
  // orchestrator may take, and starts claiming and renewing leases.
  absl::Status Start();
  // Stop lets running calls finish, then releases this orchestrator's leases
  // so that the others take its sagas over at once.
  void Stop();

  // Enqueue schedules a saga to run now.
  void Enqueue(const std::string& saga_id);

  const SagaDefinition& definition() const { return definition_; }

  // BeginFirstCall is what a new saga is stored with (SagaStore::CreateIn's
  // `first`): its first call begun, and that attempt's log entry.
  Decision BeginFirstCall() const;
  // EnqueueNew runs a saga just stored with BeginFirstCall(), from `record`: no
  // load and no commit before its first call goes out.
  void EnqueueNew(SagaRecord record);

  // RunDue drives every saga that is due now on the calling thread; Tick
  // does one round of the lease work (renew the leases of the sagas held,
  // claim those whose lease expired, count the stuck ones). Both for
  // start_threads = false; they return what RunDue ran and Tick claimed.
  int RunDue() { return scheduler_.RunDue(); }
  size_t Tick();

  // backlog is how many sagas wait for their turn or a backoff.
  size_t backlog() const { return scheduler_.queued(); }
  // in_flight is how many are being driven; calls_out, how many of them
  // wait for a call's answer (each will bring a commit).
  size_t in_flight() const { return scheduler_.running(); }
  int calls_out() const { return calls_out_.load(std::memory_order_relaxed); }
  // Admit reserves room in the backlog for one new saga, false when it is
  // full (max_backlog); the room is given back by destroying the Admission,
  // once the saga is enqueued or was not stored. Reserving, not only
  // looking, keeps StartSaga calls that arrive together within the bound.
  class Admission {
   public:
    explicit Admission(SagaRunner* runner) : runner_(runner) {}
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission();

   private:
    SagaRunner* runner_;
  };
  std::optional<Admission> Admit();

 private:
  // Flight: a saga being driven, from its start until it finishes or must
  // wait, handed from completion to completion.
  struct Flight;
  // Drive starts the saga (on a worker).
  void Drive(const std::string& saga_id);
  // Advance carries out f's decision: commits it if it must, then Sent.
  void Advance(std::shared_ptr<Flight> f);
  // Sent takes the commit's result (none when there was nothing to commit)
  // and makes the decided call, or ends the flight.
  void Sent(std::shared_ptr<Flight> f,
            std::optional<absl::StatusOr<int64_t>> committed);
  // Answered decides on a call's result and advances.
  void Answered(std::shared_ptr<Flight> f, CallResult result);
  double Draw();
  // RecordStep puts a call's outcome on its span and in the step metrics.
  void RecordStep(trace::Span& span, const std::string& saga_id,
                  const SagaCall& call, int attempt, const Decision& d,
                  const absl::Status& result, absl::Duration took);
  // ClaimAll claims batches until none is full; returns how many it took.
  absl::StatusOr<size_t> ClaimAll(bool include_own);
  // LeaseLoop claims orphaned sagas and renews leases until Stop().
  void LeaseLoop();

  SagaLog& store_;
  const SagaDefinition definition_;
  Participants& participants_;
  Clock& clock_;
  const SagaRunnerConfig config_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  Scheduler scheduler_;
  // Sagas from EnqueueNew not yet driven. Enqueue(id) drops an entry: the
  // saga moved since, so it is loaded again.
  absl::Mutex fresh_mu_;
  absl::flat_hash_map<std::string, SagaRecord> fresh_
      ABSL_GUARDED_BY(fresh_mu_);
  // New sagas admitted and not yet enqueued (Admit).
  absl::Mutex admit_mu_;
  size_t admitting_ ABSL_GUARDED_BY(admit_mu_) = 0;
  // Set by Stop() under stop_mu_ (the lease loop waits on it); sagas in
  // flight read it without the lock and make no new call once it is set
  // (the last attempt is stored; whoever takes the saga over makes it).
  absl::Mutex stop_mu_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> calls_out_{0};
  std::thread lease_thread_;
  // Tick's schedule; only Tick's thread touches them.
  absl::Time next_renewal_ = absl::InfinitePast();
  absl::Time next_stuck_count_ = absl::InfinitePast();
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_
