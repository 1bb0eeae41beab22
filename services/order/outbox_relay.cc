#include "services/order/outbox_relay.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/platform/services.h"
#include "common/status.h"

namespace sagaworks::order {

absl::Status OrchestratorStarter::StartSaga(const v1::StartSagaRequest& request,
                                            const std::string& idempotency_key,
                                            absl::Time deadline,
                                            std::string* saga_id) {
  // StartSaga is keyed by order id: a repeat starts no second saga.
  resilience::CallOptions options;
  options.idempotent = true;
  options.deadline = deadline;
  options.metadata = {{"idempotency-key", idempotency_key}};
  v1::Saga saga;
  absl::Status status = orchestrator_.Call(
      "StartSaga", options, &v1::SagaOrchestrator::StubInterface::StartSaga,
      request, &saga);
  *saga_id = saga.saga_id();
  return status;
}

OutboxRelay::OutboxRelay(OutboxTable& table, SagaStarter& starter, Clock& clock,
                         OutboxRelayConfig config)
    : table_(table),
      starter_(starter),
      clock_(clock),
      config_(config),
      rng_(config.seed) {}

OutboxRelay::~OutboxRelay() { Stop(); }

absl::Status OutboxRelay::Start() {
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot start the outbox relay's thread: ", e.what()));
  }
  return absl::OkStatus();
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  } else {
    RecordDeliveries(/*all=*/true);
  }
}

void OutboxRelay::Offer(OutboxEntry entry) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= config_.queue_limit) {
    // The entries in the queue are older and come first in the table too.
    read_when_drained_ = true;
    return;
  }
  queued_.insert(entry.order.order_id());
  queue_.push_back(std::move(entry));
}

absl::Time OutboxRelay::RunOnce() {
  static metrics::Family& pending = metrics::Registry::Default().Gauge(
      "sagaworks_outbox_pending",
      "Orders whose saga has not been started yet.");
  static metrics::Family& lag = metrics::Registry::Default().Gauge(
      "sagaworks_outbox_lag_seconds",
      "How long the oldest undelivered order has waited for its saga.");
  std::vector<OutboxEntry> batch;
  bool read_table;
  {
    absl::MutexLock lock(&mu_);
    while (!queue_.empty() &&
           batch.size() < static_cast<size_t>(config_.batch_size)) {
      queued_.erase(queue_.front().order.order_id());
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    // The table is read every poll interval whatever the queue holds: a
    // failed delivery left its entry there, due again after its backoff.
    read_table = read_table_ || (read_when_drained_ && queue_.empty()) ||
                 clock_.Now() - read_ >= config_.poll_interval;
    read_table_ = false;
    if (read_table) read_when_drained_ = false;
  }
  if (!batch.empty()) DeliverAll(batch);
  RecordDeliveries(/*all=*/false);
  if (read_table) {
    // The table then holds only what is still to go.
    RecordDeliveries(/*all=*/true);
    read_ = clock_.Now();
    const TableRead r = DeliverDue();
    if (r.read >= config_.batch_size) {
      // A full read means more may be due: read again at once. When all
      // of it was in the queue, the rest is behind the queue's entries
      // (younger): read again once the queue is empty.
      absl::MutexLock lock(&mu_);
      (r.delivered > 0 ? read_table_ : read_when_drained_) = true;
    }
  }
  // The backlog costs a query: once a second is enough for a gauge.
  if (clock_.Now() - measured_ >= absl::Seconds(1)) {
    measured_ = clock_.Now();
    std::vector<std::string> delivered;
    delivered.reserve(unrecorded_.size());
    for (const auto& [order_id, saga_id] : unrecorded_) {
      delivered.push_back(order_id);
    }
    if (absl::StatusOr<OutboxBacklogSize> b = table_.OutboxBacklog(delivered);
        b.ok()) {
      pending.With({}).Set(static_cast<double>(b->pending));
      lag.With({}).Set(absl::ToDoubleSeconds(b->oldest));
    }
  }
  return std::min(read_ + config_.poll_interval,
                  oldest_unrecorded_ + config_.record_delay);
}

void OutboxRelay::Run() {
  while (true) {
    const absl::Time wake = RunOnce();
    bool stop;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || read_table_ || read_when_drained_ || !queue_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), wake - clock_.Now());
      stop = stop_;
    }
    if (stop) {
      RecordDeliveries(/*all=*/true);
      return;
    }
  }
}

void OutboxRelay::RecordDeliveries(bool all) {
  if (unrecorded_.empty()) return;
  if (!all && unrecorded_.size() < static_cast<size_t>(config_.batch_size) &&
      clock_.Now() < oldest_unrecorded_ + config_.record_delay) {
    return;
  }
  std::vector<OutboxDelivery> deliveries;
  deliveries.reserve(unrecorded_.size());
  for (const auto& [order_id, saga_id] : unrecorded_) {
    deliveries.push_back({order_id, saga_id});
  }
  if (absl::Status s = table_.MarkDelivered(deliveries); !s.ok()) {
    // The entries stay due and go out again; StartSaga is keyed by order.
    LogWarning(absl::StrCat("outbox: cannot record delivery: ", s.message()));
  }
  unrecorded_.clear();
  oldest_unrecorded_ = absl::InfiniteFuture();
}

absl::Status OutboxRelay::Deliver(const OutboxEntry& entry,
                                  std::string* saga_id) {
  // The delivery joins the order's trace: CreateOrder's span is its parent.
  std::optional<trace::SpanContext> parent =
      trace::ParseTraceparent(entry.traceparent);
  auto span = trace::Tracer::Get().StartSpanUnder(
      "outbox deliver", trace::SpanKind::kProducer,
      parent.has_value() ? &*parent : nullptr);
  span->SetAttribute("sagaworks.order_id", entry.order.order_id());
  span->SetAttribute("sagaworks.outbox.attempt",
                     static_cast<int64_t>(entry.attempts + 1));
  trace::ScopedContext in(span->context());
  v1::StartSagaRequest request;
  request.set_order_id(entry.order.order_id());
  request.set_customer_id(entry.order.customer_id());
  *request.mutable_items() = entry.order.items();
  *request.mutable_shipping_address() = entry.order.shipping_address();
  absl::Status status = starter_.StartSaga(
      request, absl::StrCat("order:", entry.order.order_id(), ":start-saga"),
      clock_.Now() + config_.call_timeout, saga_id);
  if (status.ok()) {
    span->SetOk();
  } else {
    span->SetError(status.message());
  }
  return status;
}

OutboxRelay::TableRead OutboxRelay::DeliverDue() {
  absl::StatusOr<std::vector<OutboxEntry>> due =
      table_.DueOutbox(config_.batch_size);
  if (!due.ok()) {
    LogWarning(absl::StrCat("outbox: cannot read: ", due.status().message()));
    return {};
  }
  TableRead r;
  r.read = static_cast<int>(due->size());
  {
    // Entries handed over go out from the queue. One handed over just after
    // this read may still go out twice; StartSaga answers the repeat from
    // its key.
    absl::MutexLock lock(&mu_);
    due->erase(std::remove_if(due->begin(), due->end(),
                              [this](const OutboxEntry& e)
                                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                    return queued_.contains(e.order.order_id());
                                  }),
               due->end());
  }
  r.delivered = static_cast<int>(due->size());
  DeliverAll(*due);
  return r;
}

void OutboxRelay::DeliverAll(const std::vector<OutboxEntry>& entries) {
  const size_t n = entries.size();
  if (n == 0) return;
  std::vector<absl::Status> results(n);
  std::vector<std::string> saga_ids(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      results[i] = Deliver(entries[i], &saga_ids[i]);
    }
  };
  std::vector<std::thread> helpers;
  const size_t threads =
      std::min(n, static_cast<size_t>(std::max(config_.concurrency, 1)));
  for (size_t t = 1; t < threads; ++t) {
    // Short of threads (a process or system limit), fewer helpers deliver
    // the batch; this thread always takes part.
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;
    }
  }
  work();
  for (std::thread& t : helpers) t.join();

  for (size_t i = 0; i < n; ++i) {
    const OutboxEntry& entry = entries[i];
    if (results[i].ok()) {
      // Handed over and read back at once, it went out twice: once to
      // record.
      if (unrecorded_.emplace(entry.order.order_id(), saga_ids[i]).second) {
        oldest_unrecorded_ = std::min(oldest_unrecorded_, clock_.Now());
      }
      continue;
    }
    double draw;
    {
      absl::MutexLock lock(&rng_mu_);
      draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    const absl::Duration retry_after =
        BackoffDelay(config_.backoff, entry.attempts + 1, draw);
    LogWarning(absl::StrCat("outbox: StartSaga for order ",
                            entry.order.order_id(), " failed (attempt ",
                            entry.attempts + 1,
                            "): ", DescribeStatus(results[i])));
    if (absl::Status s = table_.MarkAttemptFailed(
            entry, DescribeStatus(results[i]), retry_after);
        !s.ok()) {
      LogWarning(absl::StrCat("outbox: cannot record a failed delivery: ",
                              s.message()));
    }
  }
}

}  // namespace sagaworks::order
