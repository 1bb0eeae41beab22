// Scheduler: a queue ordered by due time, from which a few worker threads
// start runs. A run lasts until it is declared Done, not until its worker
// returns: a saga waiting for a call's answer or a commit holds no thread,
// only one of the `max_running` places. A saga waiting out a backoff holds
// neither; a saga is never in two runs at once.
#ifndef SAGAWORKS_ORCHESTRATOR_SCHEDULER_H_
#define SAGAWORKS_ORCHESTRATOR_SCHEDULER_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks::orchestrator {

class Scheduler {
 public:
  using Task = std::function<void(const std::string& id)>;

  // `run` is called on a worker thread for each id once it is due, while
  // fewer than `max_running` runs are in progress.
  Scheduler(int workers, int max_running, Clock& clock, Task run);
  ~Scheduler();

  void Start();
  // Stop starts no more runs, joins the workers, waits until every run in
  // progress is Done, and drops the queue.
  void Stop();

  // Done ends the run of `id`: from `run` itself before it returns, or from
  // any thread later.
  void Done(const std::string& id);

  // Schedule runs `id` at `due` (or sooner, if it is already queued sooner).
  // An id scheduled while it runs is run again once the current run ends.
  void Schedule(const std::string& id, absl::Time due);

  // queued is how many ids wait (for tests and status).
  size_t queued() const;
  // Held lists every id queued or running.
  std::vector<std::string> Held() const;

  // OnRunThread: the calling thread is starting a run (inside `run`, on a
  // worker or RunDue's caller), where waiting on the database is its job.
  static bool OnRunThread();

  // running is how many runs are in progress.
  size_t running() const;

  // RunDue starts every id due by the clock on the calling thread and waits
  // for their runs to be Done, until none is due; returns how many runs it
  // started. For a scheduler whose workers were not started (tests drive it
  // step by step).
  int RunDue();

 private:
  void WorkerLoop();
  // Startable: the head of the queue is due and there is room to run it.
  bool Startable(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // StartLocked takes the head off the queue and starts its run with mu_
  // released.
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int workers_;
  const size_t max_running_;
  Clock& clock_;
  const Task run_;
  mutable absl::Mutex mu_;
  std::set<std::pair<absl::Time, std::string>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> due_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> rerun_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SCHEDULER_H_
