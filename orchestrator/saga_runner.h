// SagaRunner: drives sagas through their calls. Before each call goes out it
// commits the attempt; after the call it commits the outcome; then it goes on
// at once, or schedules the saga for after a backoff. On start it resumes
// every saga left unfinished, re-sending the last call, which the services
// answer idempotently per order.
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_

#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "orchestrator/order_saga.h"
#include "orchestrator/participants.h"
#include "orchestrator/saga_store.h"
#include "orchestrator/scheduler.h"

namespace sagaworks::orchestrator {

struct SagaRunnerConfig {
  // Sagas driven at once; each blocks a thread only while its call is out.
  int workers = 8;
  // Wait before retrying after the orchestrator's own database failed.
  absl::Duration store_retry = absl::Seconds(1);
  SagaPolicy policy;
  uint64_t seed = std::random_device{}();

  absl::Status Validate() const;
};

class SagaRunner {
 public:
  SagaRunner(SagaStore& store, Participants& participants, Clock& clock,
             SagaRunnerConfig config);
  ~SagaRunner();

  // Start starts the workers and schedules every unfinished saga.
  absl::Status Start();
  void Stop();

  // Enqueue schedules a saga to run now.
  void Enqueue(const std::string& saga_id);

 private:
  // Drive makes the saga's calls until it finishes or must wait.
  void Drive(const std::string& saga_id);
  double Draw();

  SagaStore& store_;
  Participants& participants_;
  Clock& clock_;
  const SagaRunnerConfig config_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  Scheduler scheduler_;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_RUNNER_H_
