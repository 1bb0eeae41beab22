// OutboxRelay with an in-memory outbox table, a scripted StartSaga and a
// simulated clock: no database, no processes, no sleeps. The relay starts
// no thread here; each test drives it with RunOnce().
#include "services/order/outbox_relay.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace sagaworks::order {
namespace {

// FakeOutbox keeps entries as the orders table's outbox does: undelivered
// until marked delivered, due again after a failed attempt's backoff.
class FakeOutbox final : public OutboxTable {
 public:
  explicit FakeOutbox(const Clock& clock) : clock_(clock) {}

  // Add stores an entry as CreateOrder does, due now; returns the entry to
  // hand over.
  OutboxEntry Add(const std::string& order_id) {
    absl::MutexLock lock(&mu_);
    Row& row = rows_[order_id];
    row.entry.order.set_order_id(order_id);
    row.entry.order.set_customer_id("alice");
    row.due = clock_.Now();
    row.seq = next_seq_++;
    return row.entry;
  }

  absl::StatusOr<std::vector<OutboxEntry>> DueOutbox(int limit) override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    std::vector<const Row*> due;
    for (const auto& [id, row] : rows_) {
      if (!row.delivered && row.due <= clock_.Now()) due.push_back(&row);
    }
    std::sort(due.begin(), due.end(),
              [](const Row* a, const Row* b) { return a->seq < b->seq; });
    std::vector<OutboxEntry> out;
    for (const Row* row : due) {
      if (static_cast<int>(out.size()) == limit) break;
      out.push_back(row->entry);
    }
    return out;
  }
  absl::Status MarkDelivered(
      const std::vector<OutboxDelivery>& deliveries) override {
    absl::MutexLock lock(&mu_);
    ++records_;
    for (const OutboxDelivery& d : deliveries) {
      Row& row = rows_.at(d.order_id);
      row.delivered = true;
      row.saga_id = d.saga_id;
    }
    return absl::OkStatus();
  }
  absl::Status MarkAttemptFailed(const OutboxEntry& entry,
                                 const std::string& error,
                                 absl::Duration retry_after) override {
    absl::MutexLock lock(&mu_);
    Row& row = rows_.at(entry.order.order_id());
    ++row.entry.attempts;
    row.last_error = error;
    row.retry_after = retry_after;
    row.due = clock_.Now() + retry_after;
    return absl::OkStatus();
  }
  absl::StatusOr<OutboxBacklogSize> OutboxBacklog(
      const std::vector<std::string>& delivered) override {
    absl::MutexLock lock(&mu_);
    OutboxBacklogSize size;
    for (const auto& [id, row] : rows_) {
      if (!row.delivered && std::find(delivered.begin(), delivered.end(), id) ==
                                delivered.end()) {
        ++size.pending;
      }
    }
    return size;
  }

  struct Row {
    OutboxEntry entry;
    absl::Time due;
    int seq = 0;
    bool delivered = false;
    std::string saga_id;
    std::string last_error;
    absl::Duration retry_after;
  };
  Row Get(const std::string& order_id) {
    absl::MutexLock lock(&mu_);
    return rows_.at(order_id);
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }
  int records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  const Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Row> rows_;
  int next_seq_ = 0;
  int reads_ = 0;
  int records_ = 0;
};

// ScriptedStarter answers StartSaga from a script per order (OK once it is
// used up) and counts the calls per order and their keys.
class ScriptedStarter final : public SagaStarter {
 public:
  absl::Status StartSaga(const v1::StartSagaRequest& request,
                         const std::string& idempotency_key, absl::Time,
                         std::string* saga_id) override {
    absl::MutexLock lock(&mu_);
    const std::string& id = request.order_id();
    ++calls_[id];
    keys_.push_back(idempotency_key);
    auto& script = scripts_[id];
    if (!script.empty()) {
      absl::Status s = script.front();
      script.erase(script.begin());
      if (!s.ok()) return s;
    }
    *saga_id = absl::StrCat("saga-of-", id);
    return absl::OkStatus();
  }
  void Script(const std::string& order_id, std::vector<absl::Status> answers) {
    absl::MutexLock lock(&mu_);
    scripts_[order_id] = std::move(answers);
  }
  int calls(const std::string& order_id) {
    absl::MutexLock lock(&mu_);
    return calls_[order_id];
  }
  int total_calls() {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const auto& [id, c] : calls_) n += c;
    return n;
  }
  std::vector<std::string> keys() {
    absl::MutexLock lock(&mu_);
    return keys_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<absl::Status>> scripts_;
  std::map<std::string, int> calls_;
  std::vector<std::string> keys_;
};

class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest()
      : clock_(absl::FromUnixSeconds(1800000000)), table_(clock_) {
    config_.seed = 7;
  }
  std::unique_ptr<OutboxRelay> Relay() {
    return std::make_unique<OutboxRelay>(table_, starter_, clock_, config_);
  }

  SimulatedClock clock_;
  FakeOutbox table_;
  ScriptedStarter starter_;
  OutboxRelayConfig config_;
};

TEST_F(OutboxRelayTest, HandedOverEntriesGoOutOnceAndAreRecordedTogether) {
  auto relay = Relay();
  // The first pass reads the table (a crash may have left entries); it is
  // empty, and later passes within the poll interval do not read it.
  relay->RunOnce();
  EXPECT_EQ(table_.reads(), 1);
  for (const char* id : {"o1", "o2", "o3"}) relay->Offer(table_.Add(id));
  const absl::Time wake = relay->RunOnce();
  for (const char* id : {"o1", "o2", "o3"}) EXPECT_EQ(starter_.calls(id), 1);
  EXPECT_EQ(table_.reads(), 1);
  // Delivered, and recorded once record_delay has passed: one write for the
  // three.
  EXPECT_EQ(table_.records(), 0);
  EXPECT_EQ(wake, clock_.Now() + config_.record_delay);
  clock_.Advance(config_.record_delay);
  relay->RunOnce();
  EXPECT_EQ(table_.records(), 1);
  EXPECT_TRUE(table_.Get("o2").delivered);
  EXPECT_EQ(table_.Get("o2").saga_id, "saga-of-o2");
  // StartSaga is keyed by order.
  std::vector<std::string> keys = starter_.keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"order:o1:start-saga",
                                            "order:o2:start-saga",
                                            "order:o3:start-saga"}));
  // Nothing more goes out, also after the next read of the table.
  clock_.Advance(config_.poll_interval);
  relay->RunOnce();
  EXPECT_EQ(table_.reads(), 2);
  EXPECT_EQ(starter_.total_calls(), 3);
}

TEST_F(OutboxRelayTest, EntriesLeftInTheTableGoOutWithoutBeingHandedOver) {
  // As after a crash between CreateOrder's commit and the delivery.
  table_.Add("left1");
  table_.Add("left2");
  auto relay = Relay();
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("left1"), 1);
  EXPECT_EQ(starter_.calls("left2"), 1);
  relay->Stop();  // records what was delivered
  EXPECT_TRUE(table_.Get("left1").delivered);
  EXPECT_TRUE(table_.Get("left2").delivered);
}

TEST_F(OutboxRelayTest, AFailedDeliveryIsRetriedFromTheTableAfterItsBackoff) {
  starter_.Script("o1", {absl::UnavailableError("orchestrator down"),
                         absl::UnavailableError("orchestrator down")});
  auto relay = Relay();
  relay->RunOnce();
  relay->Offer(table_.Add("o1"));
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("o1"), 1);
  FakeOutbox::Row row = table_.Get("o1");
  EXPECT_EQ(row.entry.attempts, 1);
  EXPECT_NE(row.last_error.find("orchestrator down"), std::string::npos);
  EXPECT_GT(row.retry_after, absl::ZeroDuration());
  EXPECT_LE(row.retry_after, config_.backoff.max);
  // Not before it is due, however often the table is read.
  clock_.Advance(std::min(config_.poll_interval, row.retry_after / 2));
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("o1"), 1);
  // Then again at each read once due, the backoff growing, until it goes.
  for (int i = 0; i < 20 && !table_.Get("o1").delivered; ++i) {
    clock_.Advance(
        std::max(config_.poll_interval, table_.Get("o1").retry_after));
    relay->RunOnce();
    clock_.Advance(config_.record_delay);
    relay->RunOnce();
  }
  EXPECT_TRUE(table_.Get("o1").delivered);
  EXPECT_EQ(starter_.calls("o1"), 3);
  EXPECT_EQ(table_.Get("o1").entry.attempts, 2);
}

TEST_F(OutboxRelayTest, AnEntryBothHandedOverAndReadGoesOutOnce) {
  config_.batch_size = 1;
  auto relay = Relay();
  relay->RunOnce();
  clock_.Advance(config_.poll_interval);
  relay->Offer(table_.Add("o1"));
  relay->Offer(table_.Add("o2"));
  // o1 goes out from the queue; the table's read finds o2 due, but it is
  // still in the queue, so it is left to the queue.
  relay->RunOnce();
  EXPECT_EQ(table_.reads(), 2);
  EXPECT_EQ(starter_.calls("o1"), 1);
  EXPECT_EQ(starter_.calls("o2"), 0);
  relay->RunOnce();
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("o2"), 1);
  EXPECT_EQ(starter_.total_calls(), 2);
}

TEST_F(OutboxRelayTest, PastTheQueueLimitEntriesWaitInTheTable) {
  config_.queue_limit = 2;
  auto relay = Relay();
  relay->RunOnce();
  for (const char* id : {"o1", "o2", "o3"}) relay->Offer(table_.Add(id));
  // The queue took two; the third is read from the table once the queue
  // is drained, without waiting for the poll interval.
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("o1"), 1);
  EXPECT_EQ(starter_.calls("o2"), 1);
  relay->RunOnce();
  EXPECT_EQ(starter_.calls("o3"), 1);
  EXPECT_EQ(starter_.total_calls(), 3);
}

TEST_F(OutboxRelayTest, AFullReadOfTheTableIsFollowedByAnotherAtOnce) {
  config_.batch_size = 2;
  for (const char* id : {"o1", "o2", "o3", "o4", "o5"}) table_.Add(id);
  auto relay = Relay();
  relay->RunOnce();
  relay->RunOnce();
  relay->RunOnce();
  EXPECT_EQ(starter_.total_calls(), 5);
  relay->Stop();
  for (const char* id : {"o1", "o2", "o3", "o4", "o5"}) {
    EXPECT_TRUE(table_.Get(id).delivered) << id;
  }
}

}  // namespace
}  // namespace sagaworks::order
