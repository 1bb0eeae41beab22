// Scheduler: a bounded pool of worker threads fed by a queue ordered by due
// time. A saga waiting out a backoff holds no thread; a saga is never run by
// two workers at once.
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

  // `run` is called on a worker thread for each id once it is due.
  Scheduler(int workers, Clock& clock, Task run);
  ~Scheduler();

  void Start();
  // Stop lets running tasks finish, drops the queue and joins the workers.
  void Stop();

  // Schedule runs `id` at `due` (or sooner, if it is already queued sooner).
  // An id scheduled while it runs is run again once the current run ends.
  void Schedule(const std::string& id, absl::Time due);

  // queued is how many ids wait (for tests and status).
  size_t queued() const;
  // Held lists every id queued or running.
  std::vector<std::string> Held() const;

  // RunDue runs every id due by the clock on the calling thread, until none
  // is; returns how many runs it made. For a scheduler whose workers were
  // not started (tests drive it step by step).
  int RunDue();

 private:
  void WorkerLoop();
  // RunLocked runs `task` (taken off the queue) with mu_ released, then
  // queues it again if it was scheduled meanwhile.
  void RunLocked(const std::string& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int workers_;
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
