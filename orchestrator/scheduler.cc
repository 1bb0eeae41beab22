#include "orchestrator/scheduler.h"

namespace sagaworks::orchestrator {

Scheduler::Scheduler(int workers, Clock& clock, Task run)
    : workers_(workers), clock_(clock), run_(std::move(run)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  for (int i = 0; i < workers_; ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Scheduler::Schedule(const std::string& id, absl::Time due) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  if (running_.count(id) > 0) {
    auto [it, inserted] = rerun_.emplace(id, due);
    if (!inserted && due < it->second) it->second = due;
    return;
  }
  auto it = due_.find(id);
  if (it != due_.end()) {
    if (it->second <= due) return;
    queue_.erase({it->second, id});
    it->second = due;
  } else {
    due_.emplace(id, due);
  }
  queue_.emplace(due, id);
}

size_t Scheduler::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

std::vector<std::string> Scheduler::Held() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(due_.size() + running_.size());
  for (const auto& [id, due] : due_) out.push_back(id);
  for (const std::string& id : running_) {
    if (due_.count(id) == 0) out.push_back(id);
  }
  return out;
}

int Scheduler::RunDue() {
  int runs = 0;
  absl::MutexLock lock(&mu_);
  while (!stop_ && !queue_.empty() && queue_.begin()->first <= clock_.Now()) {
    const std::string task = queue_.begin()->second;
    queue_.erase(queue_.begin());
    due_.erase(task);
    RunLocked(task);
    ++runs;
  }
  return runs;
}

void Scheduler::RunLocked(const std::string& task) {
  running_.insert(task);
  mu_.Unlock();
  run_(task);
  mu_.Lock();
  running_.erase(task);
  auto again = rerun_.find(task);
  if (again != rerun_.end()) {
    const absl::Time when = again->second;
    rerun_.erase(again);
    due_.emplace(task, when);
    queue_.emplace(when, task);
  }
}

void Scheduler::WorkerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (queue_.empty()) {
      // Woken by Schedule() through the condition; the timeout only bounds
      // how long a stop request can go unseen.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !queue_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      continue;
    }
    const absl::Time now = clock_.Now();
    const auto [due, id] = *queue_.begin();
    if (due > now) {
      // Wait until the head is due, or something sooner is queued.
      const absl::Time head = due;
      auto changed = [this, head]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || queue_.empty() || queue_.begin()->first < head;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed),
                           std::min(due - now, absl::Seconds(1)));
      continue;
    }
    const std::string task = id;
    queue_.erase(queue_.begin());
    due_.erase(task);
    RunLocked(task);
  }
}

}  // namespace sagaworks::orchestrator
