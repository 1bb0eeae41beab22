#include "orchestrator/scheduler.h"

#include <algorithm>

namespace sagaworks::orchestrator {
namespace {

thread_local bool starting_run = false;

}  // namespace

bool Scheduler::OnRunThread() { return starting_run; }

Scheduler::Scheduler(int workers, int max_running, Clock& clock, Task run)
    : workers_(workers),
      max_running_(static_cast<size_t>(std::max(max_running, 1))),
      clock_(clock),
      run_(std::move(run)) {}

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
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_.empty();
  };
  mu_.Await(absl::Condition(&idle));
  queue_.clear();
  due_.clear();
  rerun_.clear();
}

void Scheduler::Done(const std::string& id) {
  absl::MutexLock lock(&mu_);
  running_.erase(id);
  auto again = rerun_.find(id);
  if (again == rerun_.end()) return;
  const absl::Time when = again->second;
  rerun_.erase(again);
  if (stop_) return;
  due_.emplace(id, when);
  queue_.emplace(when, id);
}

size_t Scheduler::running() const {
  absl::MutexLock lock(&mu_);
  return running_.size();
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

bool Scheduler::Startable(absl::Time now) const {
  return !stop_ && !queue_.empty() && running_.size() < max_running_ &&
         queue_.begin()->first <= now;
}

void Scheduler::StartLocked() {
  const std::string task = queue_.begin()->second;
  queue_.erase(queue_.begin());
  due_.erase(task);
  running_.insert(task);
  mu_.Unlock();
  starting_run = true;
  run_(task);
  starting_run = false;
  mu_.Lock();
}

int Scheduler::RunDue() {
  int runs = 0;
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_.empty();
  };
  while (true) {
    while (Startable(clock_.Now())) {
      StartLocked();
      ++runs;
    }
    mu_.Await(absl::Condition(&idle));
    if (!Startable(clock_.Now())) return runs;
  }
}

void Scheduler::WorkerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (queue_.empty() || running_.size() >= max_running_) {
      // Woken by Schedule() and Done() through the condition; the timeout
      // only bounds how long a stop request can go unseen.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || (!queue_.empty() && running_.size() < max_running_);
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      continue;
    }
    const absl::Time now = clock_.Now();
    const absl::Time head = queue_.begin()->first;
    if (head > now) {
      // Wait until the head is due, or something sooner is queued.
      auto changed = [this, head]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || queue_.empty() || queue_.begin()->first < head;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed),
                           std::min(head - now, absl::Seconds(1)));
      continue;
    }
    StartLocked();
  }
}

}  // namespace sagaworks::orchestrator
