// OutboxRelay: delivers each new order to the saga orchestrator (StartSaga,
// keyed by order id, so a repeated delivery starts no second saga).
// CreateOrder hands each committed entry over (Offer), so the relay need not
// read back what was just written; it also reads the table at start and
// then every poll interval, for entries left by a crash, a failed delivery
// or a full queue. Deliveries are recorded (the entry deleted, the order
// given its saga id) a batch at a time, up to `record_delay` late: a
// delivery whose record a crash loses goes out again, and StartSaga answers
// it from its key.
#ifndef SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_
#define SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/resilience/client.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "services/order/outbox.h"

namespace sagaworks::order {

struct OutboxRelayConfig {
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration call_timeout = absl::Seconds(5);
  int batch_size = 64;
  // How long a delivery may wait to be recorded with others. At moderate
  // load nearly every delivery would otherwise be a commit of its own.
  absl::Duration record_delay = absl::Milliseconds(100);
  // StartSaga calls out at once. One at a time, each waiting for the
  // orchestrator's commit, caps the platform at a few hundred orders/s.
  int concurrency = 16;
  BackoffConfig backoff{absl::Milliseconds(200), absl::Seconds(10), 2.0};
  // Entries handed over and not yet delivered, at most; past that they wait
  // in the table, read once the queue is empty.
  size_t queue_limit = 4096;
  uint64_t seed = std::random_device{}();
};

// OrchestratorStarter starts sagas through the orchestrator's client (its
// retries, breaker and deadline).
class OrchestratorStarter final : public SagaStarter {
 public:
  explicit OrchestratorStarter(
      resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator)
      : orchestrator_(orchestrator) {}
  absl::Status StartSaga(const v1::StartSagaRequest& request,
                         const std::string& idempotency_key,
                         absl::Time deadline, std::string* saga_id) override;

 private:
  resilience::Client<v1::SagaOrchestrator::StubInterface>& orchestrator_;
};

class OutboxRelay {
 public:
  OutboxRelay(OutboxTable& table, SagaStarter& starter, Clock& clock,
              OutboxRelayConfig config);
  ~OutboxRelay();

  // Start starts the relay's thread; UNAVAILABLE when the system refuses
  // one (the process cannot deliver orders, and says so at start).
  absl::Status Start();
  // Stop finishes the delivery in progress, records what was delivered and
  // joins the thread.
  void Stop();
  // Offer hands over an entry whose order has just committed. Without it
  // the entry still goes out, after the next read of the table.
  void Offer(OutboxEntry entry);
  // RunOnce does one pass of the relay's loop on the caller's thread
  // (without Start: unit tests, in simulated time): delivers what was
  // handed over, records deliveries that are due to be, and reads the table
  // when that is due. Returns when the next pass is due.
  absl::Time RunOnce();

 private:
  void Run();
  struct TableRead {
    int read = 0;       // due entries read from the table
    int delivered = 0;  // of them, not in the queue: delivered here
  };
  // Reads the due entries from the table and delivers those not handed
  // over.
  TableRead DeliverDue();
  // Delivers `entries`; a failure is recorded at once, a success joins
  // the deliveries to record.
  void DeliverAll(const std::vector<OutboxEntry>& entries);
  // Records the deliveries waiting when there are a batch of them or the
  // oldest has waited `record_delay`, or now when `all`.
  void RecordDeliveries(bool all);
  // Deliver makes one StartSaga call (any thread).
  absl::Status Deliver(const OutboxEntry& entry, std::string* saga_id);

  OutboxTable& table_;
  SagaStarter& starter_;
  Clock& clock_;
  const OutboxRelayConfig config_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  absl::Mutex mu_;
  std::deque<OutboxEntry> queue_ ABSL_GUARDED_BY(mu_);
  // The order ids in queue_: a read of the table skips them.
  absl::flat_hash_set<std::string> queued_ ABSL_GUARDED_BY(mu_);
  // Read the table next: at start (a crash may have left entries there),
  // and after a full read.
  bool read_table_ ABSL_GUARDED_BY(mu_) = true;
  // Read the table once the queue is empty: after the queue overflowed, or
  // a full read found only entries in the queue.
  bool read_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Delivered and not yet recorded (the relay's thread alone; recorded
  // before each read of the table).
  absl::flat_hash_map<std::string, std::string> unrecorded_;  // order: saga
  absl::Time oldest_unrecorded_ = absl::InfiniteFuture();
  // When the table and the backlog gauge were last read (RunOnce's thread).
  absl::Time read_ = absl::InfinitePast();
  absl::Time measured_ = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace sagaworks::order

#endif  // SAGAWORKS_SERVICES_ORDER_OUTBOX_RELAY_H_
