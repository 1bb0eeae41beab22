// SagaStore against a real PostgreSQL: one saga per order, version-checked
// commits, the step log, and what recovery reads.
#include "orchestrator/saga_store.h"

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/platform/services.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "orchestrator/order_saga.h"
#include "orchestrator/saga_runner.h"
#include "tests/testing/one_statement.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::orchestrator {
namespace {

v1::StartSagaRequest Request() {
  v1::StartSagaRequest r;
  r.set_order_id("11111111-1111-1111-1111-111111111111");
  r.set_customer_id("alice");
  v1::OrderItem* item = r.add_items();
  item->set_sku("widget");
  item->set_quantity(2);
  r.mutable_shipping_address()->set_country("DE");
  return r;
}

// Polls `done` until it holds or `limit` passes.
template <typename Fn>
bool PollUntil(absl::Duration limit, Fn done) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class SagaStoreTest : public ::testing::TestWithParam<testing::WritePath> {
 protected:
  void SetUp() override {
    pool_ = testing::TestPostgres::Get().NewPool(migrations::ForService(
        platform::Info(platform::Service::kOrchestrator).name));
    store_ = std::make_unique<SagaStore>(*pool_, Lease{"orch-a", kLease});
    other_ = std::make_unique<SagaStore>(*pool_, Lease{"orch-b", kLease});
  }

  // Lets every lease lapse, as if its holder had died long ago.
  void ExpireLeases() {
    SW_ASSERT_OK(pool_->Transact("expire", [](pqxx::work& tx) {
      tx.exec(
          "UPDATE saga_instances SET lease_expires_at = "
          "now() - interval '1 second'");
      return absl::OkStatus();
    }));
  }

  // The saga with its whole timeline (one page of at most 500 entries).
  absl::StatusOr<v1::Saga> Describe(const std::string& saga_id,
                                    const std::string& order_id) {
    v1::GetSagaRequest request;
    request.set_saga_id(saga_id);
    request.set_order_id(order_id);
    return store_->Describe(request, 500);
  }

  // CreateMany stores `n` new sagas, for the orders
  // "dddddddd-dddd-dddd-dddd-dddddddddd10", "...11", ... made of `digit`.
  absl::StatusOr<std::vector<SagaRecord>> CreateMany(int n, char digit) {
    std::vector<SagaRecord> out;
    for (int i = 0; i < n; ++i) {
      v1::StartSagaRequest request = Request();
      request.set_order_id(
          absl::StrCat(std::string(8, digit), "-", std::string(4, digit), "-",
                       std::string(4, digit), "-", std::string(4, digit), "-",
                       std::string(10, digit), 10 + i));
      bool created;
      absl::StatusOr<SagaRecord> r = Create(request, &created);
      if (!r.ok()) return r.status();
      out.push_back(*std::move(r));
    }
    return out;
  }

  // A new saga as StartSaga stores it (its first call begun), by the path
  // under test.
  absl::StatusOr<SagaRecord> Create(const v1::StartSagaRequest& request,
                                    bool* created) {
    const Decision first = FirstCall(OrderSagaDefinition(), absl::Now());
    const SagaRecord planned = store_->PlannedSaga(request, first);
    *created = false;
    absl::StatusOr<SagaRecord> r = testing::HandlerWrite<SagaRecord>(
        *pool_, GetParam(), planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          *created = store_->CreateOnce(tx, k, planned, first);
          return *created;
        },
        [&](pqxx::work& tx) {
          return store_->CreateIn(tx, request, created, first);
        });
    // A stored plan is read back, as the next commit needs its version.
    if (r.ok() && *created) return store_->Load(r->saga_id);
    return r;
  }

  static constexpr absl::Duration kLease = absl::Minutes(5);
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<SagaStore> store_;
  // A second orchestrator on the same database.
  std::unique_ptr<SagaStore> other_;
};

TEST_P(SagaStoreTest, OneSagaPerOrder) {
  bool created = false;
  auto first = Create(Request(), &created);
  SW_ASSERT_OK(first.status());
  EXPECT_TRUE(created);
  auto second = Create(Request(), &created);
  SW_ASSERT_OK(second.status());
  EXPECT_FALSE(created);
  EXPECT_EQ(first->saga_id, second->saga_id);
  EXPECT_EQ(second->request.items(0).sku(), "widget");
  EXPECT_EQ(second->state.status, SagaStatus::kRunning);
  EXPECT_EQ(second->state.current_step, 1);
}

TEST_P(SagaStoreTest, CommitAppendsLogAndRejectsStaleVersions) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SagaState next = record.state;
  next.attempt = 1;
  next.step_deadline = absl::FromUnixSeconds(1800000000);
  StepLogEntry entry{
      1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1};
  auto version = store_->Commit(record, next, {entry}, absl::Now());
  SW_ASSERT_OK(version.status());
  EXPECT_EQ(*version, record.version + 1);
  // A second writer still holding the old version loses.
  EXPECT_EQ(store_->Commit(record, next, {entry}, absl::Now()).status().code(),
            absl::StatusCode::kAborted);

  SagaRecord loaded = *store_->Load(record.saga_id);
  EXPECT_EQ(loaded.version, *version);
  EXPECT_EQ(loaded.state.attempt, 1);
  EXPECT_EQ(loaded.state.step_deadline, next.step_deadline);

  v1::Saga described = *Describe("", record.order_id);
  ASSERT_EQ(described.steps_size(), 1);
  EXPECT_EQ(described.steps(0).name(), "reserve_stock");
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_STARTED);
}

// StartSaga stores a saga with its first attempt begun, so the first call
// needs no commit of its own; the next commit builds on that version.
TEST_P(SagaStoreTest, ANewSagaCanBeStoredWithItsFirstAttemptBegun) {
  Decision first;
  first.state.attempt = 1;
  first.state.step_deadline = absl::FromUnixSeconds(1800000000);
  first.log = {
      {1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1}};
  const SagaState& begun = first.state;
  const StepLogEntry& entry = first.log[0];
  bool created = false;
  absl::StatusOr<SagaRecord> record =
      pool_->TransactOr<SagaRecord>("create", [&](pqxx::work& tx) {
        return store_->CreateIn(tx, Request(), &created, first);
      });
  SW_ASSERT_OK(record.status());
  EXPECT_TRUE(created);
  EXPECT_EQ(record->state.attempt, 1);
  EXPECT_EQ(record->state.step_deadline, begun.step_deadline);
  SagaRecord loaded = *store_->Load(record->saga_id);
  EXPECT_EQ(loaded.state.attempt, 1);
  EXPECT_EQ(loaded.version, record->version);
  v1::Saga described = *Describe(record->saga_id, "");
  ASSERT_EQ(described.steps_size(), 1);
  EXPECT_EQ(described.steps(0).name(), "reserve_stock");
  EXPECT_EQ(described.steps(0).attempt(), 1);
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_STARTED);

  SagaState next = record->state;
  next.current_step = 2;
  next.attempt = 0;
  StepLogEntry done = entry;
  done.outcome = "succeeded";
  SW_EXPECT_OK(store_->Commit(*record, next, {done}, absl::Now()).status());
  // Created again (a repeated StartSaga): the stored saga, nothing logged.
  auto again = pool_->TransactOr<SagaRecord>("create", [&](pqxx::work& tx) {
    return store_->CreateIn(tx, Request(), &created, first);
  });
  SW_ASSERT_OK(again.status());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->state.current_step, 2);
  // The outcome lands on the attempt's own entry.
  described = *Describe(record->saga_id, "");
  ASSERT_EQ(described.steps_size(), 1);
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_SUCCEEDED);
}

TEST_P(SagaStoreTest, CreateOnceStoresThePlannedSagaOrNothing) {
  Decision first;
  first.state.attempt = 1;
  first.state.step_deadline = absl::FromUnixSeconds(1800000000);
  first.log = {
      {1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1}};
  auto once = [&](const SagaRecord& planned, const std::string& key) {
    return testing::StoredOnce(*pool_, [&](pqxx::transaction_base& tx) {
      return store_->CreateOnce(tx, testing::TestKey(key), planned, first);
    });
  };
  const SagaRecord planned = store_->PlannedSaga(Request(), first);
  ASSERT_TRUE(once(planned, "k1"));
  // What recovery reads is what was planned, and the first attempt is
  // logged.
  SagaRecord loaded = *store_->Load(planned.saga_id);
  EXPECT_EQ(loaded.order_id, planned.order_id);
  EXPECT_EQ(loaded.version, planned.version);
  EXPECT_EQ(loaded.state.attempt, 1);
  EXPECT_EQ(loaded.state.step_deadline, first.state.step_deadline);
  EXPECT_EQ(loaded.request.SerializeAsString(),
            planned.request.SerializeAsString());
  v1::Saga described = *Describe(planned.saga_id, "");
  EXPECT_EQ(described.status(), Summarize(planned, planned.state).status());
  ASSERT_EQ(described.steps_size(), 1);
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_STARTED);
  // Another key for the same order: the order has its saga, nothing more.
  EXPECT_FALSE(once(store_->PlannedSaga(Request(), first), "k2"));
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM saga_instances"),
            1);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM saga_steps"), 1);
  EXPECT_EQ(testing::QueryInt(*pool_, "SELECT count(*) FROM idempotency_keys"),
            1);
}

TEST_P(SagaStoreTest, OneCommitCarriesAnOutcomeAndTheNextAttempt) {
  const std::string kAwkward = "a \"quoted\" \\ back, {brace} NULL";
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SagaState next = record.state;
  next.current_step = 2;
  next.attempt = 1;
  SW_ASSERT_OK(store_
                   ->Commit(record, next,
                            {{1, "reserve_stock", CallKind::kAction, 1,
                              "succeeded", kAwkward, "", "", 1},
                             {2, "charge_payment", CallKind::kAction, 1,
                              "started", "", "", "", 2}},
                            absl::Now())
                   .status());
  v1::Saga described = *Describe(record.saga_id, "");
  ASSERT_EQ(described.steps_size(), 2);
  EXPECT_EQ(described.steps(0).outcome(), v1::STEP_OUTCOME_SUCCEEDED);
  // Quotes, backslashes, commas and braces survive the array parameters.
  EXPECT_EQ(described.steps(0).error(), kAwkward);
  EXPECT_EQ(described.steps(1).name(), "charge_payment");
  EXPECT_EQ(described.steps(1).outcome(), v1::STEP_OUTCOME_STARTED);
}

// Commits that arrive while one is being written go together in the next
// statement, and each caller still gets its own answer: a stale move among
// them is refused alone. Renewing leases meanwhile skips the row being
// committed instead of waiting for it.
TEST_P(SagaStoreTest, CommitsArrivingTogetherShareOneStatement) {
  constexpr int kSagas = 8;
  std::vector<SagaRecord> records = *CreateMany(kSagas, '1');
  SagaRecord stale = records[kSagas - 1];
  stale.version -= 1;
  SagaState next = records[0].state;
  next.attempt = 1;
  // The first call's outcome: it updates the entry the saga was created
  // with.
  const StepLogEntry succeeded{
      1, "reserve_stock", CallKind::kAction, 1, "succeeded", "", "", "", 1};
  const std::vector<StepLogEntry> entries{succeeded};

  // Another transaction holds saga 0's row: the first group waits on it.
  pqxx::connection blocker(pool_->config().url);
  pqxx::connection watcher(pool_->config().url);
  pqxx::work held(blocker);
  held.exec_params("SELECT 1 FROM saga_instances WHERE saga_id = $1 FOR UPDATE",
                   records[0].saga_id);
  std::vector<absl::StatusOr<int64_t>> results(kSagas,
                                               absl::UnknownError("unset"));
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    results[0] = store_->Commit(records[0], next, entries, absl::Now());
  });
  // (Both waits stay well inside the pool's 5 s lock timeout, and a failed
  // one still lets the threads finish before the test ends.)
  const bool blocked = PollUntil(absl::Seconds(2), [&] {
    pqxx::nontransaction look(watcher);
    return look.exec1(
                   "SELECT count(*) FROM pg_stat_activity "
                   "WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()")[0]
               .as<int>() > 0;
  });
  // The lease renewal passes the locked row by.
  std::vector<std::string> all;
  for (const SagaRecord& r : records) all.push_back(r.saga_id);
  absl::StatusOr<int64_t> renewed = store_->RenewLeases(all);

  for (int i = 1; i < kSagas; ++i) {
    threads.emplace_back([&, i] {
      const SagaRecord& record = i == kSagas - 1 ? stale : records[i];
      results[i] = store_->Commit(record, next, entries, absl::Now());
    });
  }
  const bool queued = PollUntil(
      absl::Seconds(2), [&] { return store_->WaitingCommits() == kSagas - 1; });
  held.commit();
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(blocked) << "the first commit never waited on the row lock";
  SW_ASSERT_OK(renewed.status());
  EXPECT_EQ(*renewed, kSagas - 1);
  ASSERT_TRUE(queued) << "the later commits did not wait for the first";

  for (int i = 0; i < kSagas - 1; ++i) {
    SW_ASSERT_OK(results[i].status());
    EXPECT_EQ(*results[i], records[i].version + 1);
    const v1::Saga saga = *Describe(records[i].saga_id, "");
    ASSERT_EQ(saga.steps_size(), 1);
    EXPECT_EQ(saga.steps(0).outcome(), v1::STEP_OUTCOME_SUCCEEDED);
  }
  EXPECT_EQ(results[kSagas - 1].status().code(), absl::StatusCode::kAborted);
  // The stale move wrote nothing: its saga's entry is as created.
  const v1::Saga untouched = *Describe(stale.saga_id, "");
  ASSERT_EQ(untouched.steps_size(), 1);
  EXPECT_EQ(untouched.steps(0).outcome(), v1::STEP_OUTCOME_STARTED);
  // Sagas 1-6 were written by one transaction.
  std::set<std::string> writers;
  pqxx::nontransaction look(watcher);
  for (int i = 1; i < kSagas - 1; ++i) {
    writers.insert(look.exec_params1("SELECT xmin::text FROM saga_instances "
                                     "WHERE saga_id = $1",
                                     records[i].saga_id)[0]
                       .as<std::string>());
  }
  EXPECT_EQ(writers.size(), 1u);
}

// With a group wait, a move waits for the moves said to be on their way
// (sagas whose call is out) and goes in one statement with them, well
// before the wait is over; with none on their way it goes at once.
TEST_P(SagaStoreTest, AGroupWaitGathersTheMovesOnTheirWay) {
  std::vector<SagaRecord> records = *CreateMany(3, '3');
  std::atomic<int> on_their_way{1};
  // How often the committer asked, counted once it has its answer: the one
  // on its way may only arrive after the committer counted it.
  std::atomic<int> asked{0};
  SagaStore store(*pool_, Lease{"orch-a", kLease});
  store.SetGroupWait(absl::Seconds(30), [&] {
    const int n = on_their_way.load();
    ++asked;
    return n;
  });
  SagaState next = records[0].state;
  next.attempt = 2;
  const std::vector<StepLogEntry> entries;
  absl::Mutex mu;
  std::vector<absl::StatusOr<int64_t>> results;
  auto done = [&](absl::StatusOr<int64_t> r) {
    absl::MutexLock lock(&mu);
    results.push_back(std::move(r));
  };
  auto finished = [&](size_t n) {
    absl::MutexLock lock(&mu);
    return results.size() == n;
  };
  store.CommitAsync(records[0], next, entries, absl::Now(),
                    /*may_wait=*/false, done);
  ASSERT_TRUE(PollUntil(absl::Seconds(5), [&] { return asked.load() >= 1; }));
  EXPECT_EQ(store.WaitingCommits(), 1);
  EXPECT_FALSE(finished(1));  // held back for the one on its way
  on_their_way = 0;
  store.CommitAsync(records[1], next, entries, absl::Now(),
                    /*may_wait=*/false, done);
  ASSERT_TRUE(PollUntil(absl::Seconds(10), [&] { return finished(2); }));
  // Nothing on its way: the third goes alone, at once.
  store.CommitAsync(records[2], next, entries, absl::Now(),
                    /*may_wait=*/false, done);
  ASSERT_TRUE(PollUntil(absl::Seconds(10), [&] { return finished(3); }));
  for (const auto& r : results) SW_EXPECT_OK(r.status());
  pqxx::connection watcher(pool_->config().url);
  pqxx::nontransaction look(watcher);
  auto writer = [&](const SagaRecord& r) {
    return look
        .exec_params1(
            "SELECT xmin::text FROM saga_instances WHERE saga_id = $1",
            r.saga_id)[0]
        .as<std::string>();
  };
  EXPECT_EQ(writer(records[0]), writer(records[1]));
  EXPECT_NE(writer(records[1]), writer(records[2]));
}

// A move alone goes out as a statement of its own (plain parameters), in a
// group as arrays: both leave the same row and the same log.
TEST_P(SagaStoreTest, AMoveAloneAndInAGroupLeaveTheSameRowAndLog) {
  absl::StatusOr<std::vector<SagaRecord>> made = CreateMany(3, '2');
  SW_ASSERT_OK(made.status());
  const std::vector<SagaRecord>& records = *made;
  SagaState next;
  next.status = SagaStatus::kCompensating;
  next.current_step = 2;
  next.attempt = 3;
  next.step_deadline = absl::FromUnixMicros(1795000000123456);
  next.failure_reason = "card \"declined\", {twice}";
  next.context = OrderContextBytes(1234);
  next.cancel_requested = true;
  const std::vector<StepLogEntry> entries{
      {2, "charge_payment", CallKind::kAction, 2, "failed", "no, {\"money\"}",
       "", "", 2},
      {2, "charge_payment", CallKind::kCompensation, 1, "started", "", "", "",
       3}};
  const absl::Time next_at = absl::FromUnixMicros(1895000000654321);
  auto commit = [&](std::vector<Move> moves) {
    SW_ASSERT_OK(pool_->Autocommit("commit", [&](pqxx::nontransaction& tx) {
      for (const auto& result : store_->CommitAllIn(tx, moves)) {
        EXPECT_TRUE(result.ok()) << result.status();
      }
      return absl::OkStatus();
    }));
  };
  commit({Move{&records[0], &next, &entries, next_at}});
  commit({Move{&records[1], &next, &entries, next_at},
          Move{&records[2], &next, &entries, next_at}});

  auto row = [&](const std::string& saga_id) {
    std::string out;
    SW_EXPECT_OK(pool_->Transact("read", [&](pqxx::work& tx) {
      pqxx::row r = tx.exec_params1(
          "SELECT status, current_step, attempt, step_deadline, "
          "failure_reason, total_cents, cancel_requested, next_attempt_at, "
          "version, lease_owner, context FROM saga_instances WHERE saga_id = "
          "$1",
          saga_id);
      for (const auto& field : r) absl::StrAppend(&out, field.c_str(), "|");
      pqxx::result log = tx.exec_params(
          "SELECT step, name, kind, attempt, outcome, error FROM saga_steps "
          "WHERE saga_id = $1 ORDER BY id",
          saga_id);
      for (const auto& l : log) {
        for (const auto& field : l) absl::StrAppend(&out, field.c_str(), "|");
      }
      return absl::OkStatus();
    }));
    return out;
  };
  const std::string alone = row(records[0].saga_id);
  EXPECT_NE(alone.find("compensating|2|3|"), std::string::npos) << alone;
  EXPECT_NE(alone.find("no, {\"money\"}"), std::string::npos) << alone;
  EXPECT_NE(alone.find("|1234|"), std::string::npos) << alone;
  EXPECT_EQ(alone, row(records[1].saga_id));
  EXPECT_EQ(alone, row(records[2].saga_id));
  for (const SagaRecord& r : records) {
    EXPECT_EQ(store_->Load(r.saga_id)->state.context, next.context);
  }
}

TEST_P(SagaStoreTest, ALiveLeaseKeepsOtherOrchestratorsOff) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  // Created by orch-a, so held by it: orch-b claims nothing and cannot move
  // it, while orch-a can.
  EXPECT_TRUE(other_->Claim(10, /*include_own=*/true)->empty());
  SagaState next = record.state;
  next.attempt = 1;
  const StepLogEntry started{
      1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1};
  EXPECT_EQ(
      other_->Commit(record, next, {started}, absl::Now()).status().code(),
      absl::StatusCode::kAborted);
  SW_EXPECT_OK(store_->Commit(record, next, {started}, absl::Now()).status());
}

// CancelSaga may reach any orchestrator: its commit takes the saga over
// from whoever holds the lease, and the holder's next commit is refused.
TEST_P(SagaStoreTest, ACancellingOrchestratorTakesTheSagaOver) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SagaState cancelled = record.state;
  cancelled.cancel_requested = true;
  const StepLogEntry entry{
      1, "cancel_requested", CallKind::kAction, 0, "succeeded", "", "", "", 2};
  absl::StatusOr<int64_t> version =
      pool_->TransactOr<int64_t>("cancel", [&](pqxx::work& tx) {
        return other_->CommitIn(tx, record, cancelled, {entry}, absl::Now(),
                                /*take_over=*/true);
      });
  SW_ASSERT_OK(version.status());
  SagaRecord moved = record;
  moved.version = *version;
  EXPECT_EQ(
      store_->Commit(moved, cancelled, {entry}, absl::Now()).status().code(),
      absl::StatusCode::kAborted);
  SW_EXPECT_OK(other_->Commit(moved, cancelled, {entry}, absl::Now()).status());
}

TEST_P(SagaStoreTest, ExpiredLeasesPassToAnotherOrchestrator) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  ExpireLeases();
  auto claimed = other_->Claim(10, /*include_own=*/false);
  SW_ASSERT_OK(claimed.status());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().first, record.saga_id);
  // Taken: the old holder's late commit is refused even though it still
  // has the current version, and it cannot claim the saga back.
  SagaState next = record.state;
  next.attempt = 1;
  const StepLogEntry started{
      1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1};
  EXPECT_EQ(
      store_->Commit(record, next, {started}, absl::Now()).status().code(),
      absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->Claim(10, /*include_own=*/true)->empty());
  SW_EXPECT_OK(other_->Commit(record, next, {started}, absl::Now()).status());
  // Renewal keeps it: after renewing, a claim by orch-a still finds nothing.
  EXPECT_EQ(*other_->RenewLeases({record.saga_id}), 1);
  EXPECT_TRUE(store_->Claim(10, /*include_own=*/false)->empty());
}

// A saga whose orchestrator died mid-step is taken over a lease later; the
// step's deadline moves by the time no one drove it, so the new holder
// retries it rather than compensating at once for time the dead one lost.
TEST_P(SagaStoreTest, ATakenOverStepGetsBackTheTimeNoOneDroveIt) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SagaState next = record.state;
  next.attempt = 1;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  next.step_deadline = deadline;
  const StepLogEntry started{
      1, "reserve_stock", CallKind::kAction, 1, "started", "", "", "", 1};
  SW_ASSERT_OK(store_->Commit(record, next, {started}, absl::Now()).status());
  ExpireLeases();  // last renewed a lease and a second ago
  SW_ASSERT_OK(other_->Claim(10, /*include_own=*/false).status());
  SagaRecord taken = *other_->Load(record.saga_id);
  ASSERT_TRUE(taken.state.step_deadline.has_value());
  EXPECT_GE(*taken.state.step_deadline, deadline + kLease);
  EXPECT_LE(*taken.state.step_deadline, deadline + kLease + absl::Minutes(1));
}

// Renewal goes a chunk at a time and still reaches every lease, each once.
TEST_P(SagaStoreTest, RenewalInChunksReachesEveryLease) {
  SagaStore chunked(*pool_, Lease{"orch-a", kLease}, /*max_batch=*/64,
                    /*renew_chunk=*/2);
  absl::StatusOr<std::vector<SagaRecord>> made = CreateMany(5, '2');
  SW_ASSERT_OK(made.status());
  std::vector<std::string> held;
  for (const SagaRecord& r : *made) held.push_back(r.saga_id);
  ExpireLeases();
  absl::StatusOr<int64_t> renewed = chunked.RenewLeases(held);
  SW_ASSERT_OK(renewed.status());
  EXPECT_EQ(*renewed, 5);
  // All live again: another orchestrator can claim none of them.
  EXPECT_TRUE(other_->Claim(10, /*include_own=*/false)->empty());
}

// A saga this orchestrator leases but no longer holds in memory is not
// renewed: its lease runs out and a claim picks it up again.
TEST_P(SagaStoreTest, OnlySagasHeldInMemoryAreRenewed) {
  bool created;
  SagaRecord held = *Create(Request(), &created);
  v1::StartSagaRequest other_order = Request();
  other_order.set_order_id("22222222-2222-2222-2222-222222222299");
  SagaRecord orphan = *Create(other_order, &created);
  ExpireLeases();
  EXPECT_EQ(*store_->RenewLeases({held.saga_id}), 1);
  auto claimed = other_->Claim(10, /*include_own=*/false);
  SW_ASSERT_OK(claimed.status());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().first, orphan.saga_id);
}

TEST_P(SagaStoreTest, ARestartedOrchestratorTakesItsOwnSagasBack) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  // Same owner name after a restart: its lease is still live, and only a
  // claim that includes its own sagas finds it.
  EXPECT_TRUE(store_->Claim(10, /*include_own=*/false)->empty());
  auto resumed = store_->Claim(10, /*include_own=*/true);
  SW_ASSERT_OK(resumed.status());
  EXPECT_EQ(resumed->size(), 1u);
}

TEST_P(SagaStoreTest, ReleasedLeasesAreClaimableAtOnce) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SW_ASSERT_OK(store_->ReleaseLeases());
  EXPECT_EQ(other_->Claim(10, /*include_own=*/false)->size(), 1u);
}

TEST_P(SagaStoreTest, FinishedSagasAreNeverClaimed) {
  bool created;
  SagaRecord record = *Create(Request(), &created);
  SagaState done = record.state;
  done.status = SagaStatus::kCompleted;
  SW_ASSERT_OK(store_
                   ->Commit(record, done,
                            {{4, "approve_order", CallKind::kAction, 1,
                              "succeeded", "", "", "", 1}},
                            absl::Now())
                   .status());
  ExpireLeases();
  EXPECT_TRUE(other_->Claim(10, /*include_own=*/true)->empty());
  EXPECT_EQ(*store_->RenewLeases({record.saga_id}), 0);
  v1::ListSagasRequest completed;
  completed.set_status(v1::SAGA_STATUS_COMPLETED);
  EXPECT_EQ(store_->List(completed, 10)->sagas_size(), 1);
}

// Stuck: a call retrying for longer than the threshold, or a saga due that
// long and not updated (nobody drives it); never a finished one.
TEST_P(SagaStoreTest, StuckSagasAreListedAndCounted) {
  store_->SetStuckAfter(absl::Minutes(5));
  std::vector<SagaRecord> sagas = *CreateMany(4, '3');
  // 0 retries its call for 10 minutes; 1 is due and untouched for 10
  // minutes; 2 is healthy; 3 retried as long but has finished.
  SagaState retrying = sagas[0].state;
  retrying.attempt = 2;
  SW_ASSERT_OK(store_->Commit(sagas[0], retrying, {}, absl::Now()).status());
  SagaState done = sagas[3].state;
  done.status = SagaStatus::kCompleted;
  done.attempt = 7;
  SW_ASSERT_OK(store_->Commit(sagas[3], done, {}, absl::Now()).status());
  SW_ASSERT_OK(pool_->Transact("age", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE saga_instances SET call_since = now() - interval '10 min' "
        "WHERE saga_id IN ($1, $2)",
        sagas[0].saga_id, sagas[3].saga_id);
    tx.exec_params(
        "UPDATE saga_instances SET next_attempt_at = now() - interval "
        "'10 min', updated_at = now() - interval '10 min' WHERE saga_id = $1",
        sagas[1].saga_id);
    return absl::OkStatus();
  }));
  EXPECT_EQ(*store_->CountStuck(absl::Minutes(5)), 2);
  EXPECT_EQ(*store_->CountStuck(absl::Minutes(20)), 0);
  v1::ListSagasRequest request;
  request.set_stuck(true);
  v1::ListSagasResponse stuck = *store_->List(request, 10);
  std::set<std::string> ids;
  for (const v1::Saga& s : stuck.sagas()) {
    EXPECT_TRUE(s.stuck()) << s.saga_id();
    ids.insert(s.saga_id());
  }
  EXPECT_EQ(ids, (std::set<std::string>{sagas[0].saga_id, sagas[1].saga_id}));
  v1::Saga retried = *Describe(sagas[0].saga_id, "");
  EXPECT_TRUE(retried.stuck());
  EXPECT_EQ(retried.attempt(), 2);
  EXPECT_FALSE(Describe(sagas[2].saga_id, "")->stuck());
  EXPECT_FALSE(Describe(sagas[3].saga_id, "")->stuck());
}

TEST_P(SagaStoreTest, ClaimTakesAtMostOneBatch) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::StartSagaRequest r = Request();
    r.set_order_id(absl::StrCat("11111111-1111-1111-1111-00000000000", i));
    bool created;
    ids.push_back(Create(r, &created)->saga_id);
  }
  ExpireLeases();
  auto first = other_->Claim(3, false);
  SW_ASSERT_OK(first.status());
  EXPECT_EQ(first->size(), 3u);
  auto rest = other_->Claim(3, false);
  EXPECT_EQ(rest->size(), 2u);
}

// A commit that waits for a row lock past the lock timeout fails ABORTED
// like a lost race does, but the saga is still this orchestrator's: it is
// retried until the lock goes, and finishes.
TEST_P(SagaStoreTest, ASagaWhoseCommitHitsALockTimeoutResumes) {
  db::PoolConfig config = pool_->config();
  config.lock_timeout = absl::Milliseconds(300);
  config.max_tx_attempts = 1;
  auto pool = db::Pool::Create(config);
  SW_ASSERT_OK(pool.status());
  SagaStore store(**pool, Lease{"orch-a", kLease});
  const SagaDefinition definition = OrderSagaDefinition();
  BoundParticipants participants;
  for (const std::string& name : definition.CallNames()) {
    participants.Bind(name, [](const CallInput&) { return CallResult(); });
  }
  SagaRunnerConfig runner_config;
  runner_config.store_retry = absl::Milliseconds(100);
  SagaRunner runner(store, definition, participants, RealClock::Default(),
                    runner_config);
  SW_ASSERT_OK(runner.Start());

  const Decision first = runner.BeginFirstCall();
  bool created = false;
  absl::StatusOr<SagaRecord> record =
      (*pool)->TransactOr<SagaRecord>("create", [&](pqxx::work& tx) {
        return store.CreateIn(tx, Request(), &created, first);
      });
  SW_ASSERT_OK(record.status());

  // Another session holds the saga's row, as `SELECT ... FOR UPDATE` in psql
  // would.
  pqxx::connection blocker(config.url);
  pqxx::connection watcher(config.url);
  auto held = std::make_unique<pqxx::work>(blocker);
  held->exec_params(
      "SELECT 1 FROM saga_instances WHERE saga_id = $1 "
      "FOR UPDATE",
      record->saga_id);
  // Driven from what is stored (as after a restart or a backoff), not from
  // the record just created.
  runner.Enqueue(record->saga_id);
  // Waits seen on the row: a second one, begun after the first, means the
  // first ran out its lock timeout and the saga was tried again.
  auto waiting_since = [&]() -> std::optional<std::string> {
    pqxx::nontransaction look(watcher);
    pqxx::result r = look.exec(
        "SELECT query_start::text FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database() "
        "ORDER BY query_start LIMIT 1");
    if (r.empty()) return std::nullopt;
    return r[0][0].as<std::string>();
  };
  std::optional<std::string> first_wait;
  ASSERT_TRUE(PollUntil(absl::Seconds(10), [&] {
    first_wait = waiting_since();
    return first_wait.has_value();
  }));
  ASSERT_TRUE(PollUntil(absl::Seconds(10), [&] {
    std::optional<std::string> now = waiting_since();
    return now.has_value() && *now != *first_wait;
  })) << "the saga was not tried again after its lock timeout";
  held->commit();
  held.reset();
  ASSERT_TRUE(PollUntil(absl::Seconds(10), [&] {
    absl::StatusOr<SagaRecord> r = store.Load(record->saga_id);
    return r.ok() && r->state.status == SagaStatus::kCompleted;
  })) << "the saga did not finish once the lock was gone";
  runner.Stop();
}

// A participant down for a day: the refund is attempted every few seconds
// (the compensation backoff's cap) all day, and the timeline still holds
// one entry per call, so GetSaga stays small and pages.
TEST_P(SagaStoreTest, ADayOfRetriesLeavesOneTimelineEntryPerCall) {
  SimulatedClock clock(absl::FromUnixSeconds(1800000000));
  const SagaDefinition definition = OrderSagaDefinition();
  BoundParticipants participants;
  for (const std::string& name : definition.CallNames()) {
    participants.Bind(name, [name](const CallInput&) {
      CallResult result;
      if (name == "reserve_stock") {
        result.context = OrderContextBytes(1000);
      } else if (name == "create_shipment") {
        result.status = absl::FailedPreconditionError("no courier");
      } else if (name == "refund_payment") {
        result.status = absl::UnavailableError("payment is down");
      }
      return result;
    });
  }
  SagaRunnerConfig config;
  config.start_threads = false;
  SagaRunner runner(*store_, definition, participants, clock, config);
  SW_ASSERT_OK(runner.Start());
  const Decision first = runner.BeginFirstCall();
  bool created = false;
  absl::StatusOr<SagaRecord> record =
      pool_->TransactOr<SagaRecord>("create", [&](pqxx::work& tx) {
        return store_->CreateIn(tx, Request(), &created, first);
      });
  SW_ASSERT_OK(record.status());
  runner.EnqueueNew(*record);

  const absl::Time end = clock.Now() + absl::Hours(24);
  int rounds = 0;
  while (clock.Now() < end) {
    runner.RunDue();
    clock.Advance(definition.policy.compensation_backoff.max);
    ++rounds;
  }
  const SagaRecord after = *store_->Load(record->saga_id);
  EXPECT_EQ(after.state.status, SagaStatus::kCompensating);
  EXPECT_EQ(after.state.current_step, 2);
  // Every round made one attempt at the refund.
  EXPECT_GE(after.state.attempt, rounds - 1);

  v1::Saga saga = *Describe(record->saga_id, "");
  // Shipping refused, so the charge is being undone (step 2), all day.
  std::vector<std::string> names;
  for (const auto& e : saga.steps()) names.push_back(e.name());
  EXPECT_EQ(names,
            (std::vector<std::string>{"reserve_stock", "charge_payment",
                                      "create_shipment", "refund_payment"}));
  const v1::SagaStepEvent& refund = saga.steps(3);
  EXPECT_EQ(refund.attempt(), after.state.attempt);
  EXPECT_EQ(refund.kind(), v1::STEP_KIND_COMPENSATION);
  EXPECT_NE(refund.error().find("payment is down"), std::string::npos);
  EXPECT_LT(saga.ByteSizeLong(), 1024u * 1024u);
  std::cout << "a day of retries: " << after.state.attempt
            << " attempts at the refund, " << saga.steps_size()
            << " timeline entries, GetSaga " << saga.ByteSizeLong()
            << " bytes\n";

  // The timeline pages: two at a time, the same entries in the same order.
  v1::GetSagaRequest request;
  request.set_saga_id(record->saga_id);
  std::vector<std::string> paged;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<v1::Saga> page = store_->Describe(request, 2);
    SW_ASSERT_OK(page.status());
    EXPECT_LE(page->steps_size(), 2);
    for (const auto& e : page->steps()) paged.push_back(e.name());
    if (page->next_steps_page_token().empty()) break;
    request.set_steps_page_token(page->next_steps_page_token());
  }
  EXPECT_EQ(paged, names);
  // A token is refused for another saga.
  request.set_saga_id("22222222-2222-2222-2222-222222222222");
  EXPECT_EQ(store_->Describe(request, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, SagaStoreTest,
    ::testing::Values(testing::WritePath::kTransaction,
                      testing::WritePath::kOneStatementFirst),
    testing::WritePathName);

}  // namespace
}  // namespace sagaworks::orchestrator
