// SagaRunner with fake participants, an in-memory saga log and a simulated
// clock: no processes and no sleeps. The runner starts no thread here; each
// test drives it with RunDue() (due sagas) and Tick() (lease work).
#include "orchestrator/saga_runner.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/orchestrator/fake_saga_log.h"
#include "tests/orchestrator/test_sagas.h"

namespace sagaworks::orchestrator {
namespace {

using testing::FakeSagaDb;
using testing::FakeSagaLog;

constexpr absl::Duration kLease = absl::Seconds(10);

// Participants that answer from a script per call name (OK once the script
// is used up) and record every call with its idempotency key.
class ScriptedParticipants final : public BoundParticipants {
 public:
  explicit ScriptedParticipants(const SagaDefinition& d) {
    for (const std::string& name : d.CallNames()) {
      Bind(name, [this, name](const CallInput& in) {
        absl::MutexLock lock(&mu_);
        calls_.push_back(in.call.name);
        keys_.push_back(in.idempotency_key);
        CallResult result;
        auto& script = scripts_[name];
        if (!script.empty()) {
          result.status = script.front();
          script.erase(script.begin());
        }
        if (result.status.ok() && in.call.kind == CallKind::kAction) {
          result.context = absl::StrCat(in.state.context, name, ";");
        }
        return result;
      });
    }
  }
  void Script(const std::string& name, std::vector<absl::Status> answers) {
    absl::MutexLock lock(&mu_);
    scripts_[name] = std::move(answers);
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<std::string> keys() {
    absl::MutexLock lock(&mu_);
    return keys_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<absl::Status>> scripts_;
  std::vector<std::string> calls_, keys_;
};

class SagaRunnerTest : public ::testing::Test {
 protected:
  SagaRunnerTest()
      : clock_(absl::FromUnixSeconds(1700000000)),
        db_(clock_),
        definition_(testing::TripSagaDefinition()),
        participants_(definition_) {}

  std::unique_ptr<SagaRunner> Runner(FakeSagaLog& log) {
    SagaRunnerConfig config;
    config.start_threads = false;
    config.seed = 7;
    return std::make_unique<SagaRunner>(log, definition_, participants_, clock_,
                                        config);
  }
  SagaRecord NewSaga(const std::string& id, const std::string& owner) {
    return db_.Create(id, FirstCall(definition_, clock_.Now()), owner, kLease);
  }
  SagaStatus Status(const std::string& id) {
    return db_.Get(id).record.state.status;
  }

  SimulatedClock clock_;
  FakeSagaDb db_;
  SagaDefinition definition_;
  ScriptedParticipants participants_;
};

const std::vector<std::string> kAllSteps = {"book_flight", "book_hotel",
                                            "charge_card", "send_tickets",
                                            "notify_customer"};

TEST_F(SagaRunnerTest, DrivesANewSagaToTheEndWithOneCommitPerAnswer) {
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto runner = Runner(log);
  ASSERT_TRUE(runner->Start().ok());
  runner->EnqueueNew(NewSaga("s1", "orch-a"));
  EXPECT_EQ(runner->RunDue(), 1);
  EXPECT_EQ(participants_.calls(), kAllSteps);
  const FakeSagaDb::Row row = db_.Get("s1");
  EXPECT_EQ(row.record.state.status, SagaStatus::kCompleted);
  // The first attempt was stored with the saga; each answer's commit
  // carries the next call's attempt.
  EXPECT_EQ(db_.commits(), 5);
  EXPECT_EQ(row.record.state.context,
            "book_flight;book_hotel;charge_card;send_tickets;"
            "notify_customer;");
  EXPECT_EQ(runner->RunDue(), 0);
}

TEST_F(SagaRunnerTest, ATransientFailureWaitsOutItsBackoffHoldingNoThread) {
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto runner = Runner(log);
  ASSERT_TRUE(runner->Start().ok());
  participants_.Script("book_hotel", {absl::UnavailableError("full")});
  runner->EnqueueNew(NewSaga("s1", "orch-a"));
  runner->RunDue();
  EXPECT_EQ(Status("s1"), SagaStatus::kRunning);
  EXPECT_EQ(runner->backlog(), 1u);
  EXPECT_EQ(runner->RunDue(), 0);  // not due yet
  clock_.Advance(definition_.policy.action_backoff.max);
  EXPECT_EQ(runner->RunDue(), 1);
  EXPECT_EQ(Status("s1"), SagaStatus::kCompleted);
  // The retry went out under the same idempotency key.
  const std::vector<std::string> keys = participants_.keys();
  EXPECT_EQ(keys[1], keys[2]);
  EXPECT_EQ(keys[1], "saga:s1:2:book_hotel");
}

TEST_F(SagaRunnerTest, ADatabaseFailureOnCommitReschedulesTheSaga) {
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto runner = Runner(log);
  ASSERT_TRUE(runner->Start().ok());
  // A lock timeout is ABORTED too, but not a lost race: the saga stays
  // this orchestrator's and runs again.
  db_.FailCommits(absl::AbortedError("canceling statement due to lock timeout"),
                  2);
  NewSaga("s1", "orch-a");
  runner->Enqueue("s1");  // loaded, as after a restart or a backoff
  runner->RunDue();
  EXPECT_EQ(Status("s1"), SagaStatus::kRunning);
  EXPECT_EQ(runner->backlog(), 1u);
  for (int i = 0; i < 3 && Status("s1") != SagaStatus::kCompleted; ++i) {
    clock_.Advance(absl::Seconds(1));
    runner->RunDue();
  }
  EXPECT_EQ(Status("s1"), SagaStatus::kCompleted);
  // The attempt whose commit failed never went out; the one after did.
  EXPECT_EQ(participants_.calls(), kAllSteps);
}

TEST_F(SagaRunnerTest, ASagaLostTrackOfLetsItsLeaseRunOutAndIsClaimedAgain) {
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto runner = Runner(log);
  ASSERT_TRUE(runner->Start().ok());
  // Leased here but never scheduled (as if dropped by a bug): it is not
  // renewed, so its lease runs out, and the next claim drives it.
  NewSaga("orphan", "orch-a");
  NewSaga("held", "orch-a");
  runner->Enqueue("held");
  participants_.Script("book_flight", {absl::UnavailableError("down")});
  runner->RunDue();  // "held" now waits out a backoff
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Seconds(1));
    runner->Tick();
    runner->RunDue();
  }
  EXPECT_EQ(Status("orphan"), SagaStatus::kCompleted);
  EXPECT_EQ(Status("held"), SagaStatus::kCompleted);
}

TEST_F(SagaRunnerTest, ARestartedOrchestratorResumesItsSagaWithTheSameKeys) {
  {
    FakeSagaLog log(db_, {"orch-a", kLease});
    auto runner = Runner(log);
    ASSERT_TRUE(runner->Start().ok());
    participants_.Script("charge_card", {absl::DeadlineExceededError("slow")});
    runner->EnqueueNew(NewSaga("s1", "orch-a"));
    runner->RunDue();
    ASSERT_EQ(Status("s1"), SagaStatus::kRunning);
    // Killed: it releases nothing on the way out.
    log.Sever();
  }
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto restarted = Runner(log);
  ASSERT_TRUE(restarted->Start().ok());  // takes its own sagas back at once
  clock_.Advance(definition_.policy.action_backoff.max);
  restarted->RunDue();
  EXPECT_EQ(Status("s1"), SagaStatus::kCompleted);
  std::vector<std::string> charge_keys;
  for (const std::string& k : participants_.keys()) {
    if (k.find("charge_card") != std::string::npos) charge_keys.push_back(k);
  }
  ASSERT_EQ(charge_keys.size(), 2u);
  EXPECT_EQ(charge_keys[0], charge_keys[1]);
}

TEST_F(SagaRunnerTest, AnotherOrchestratorTakesOverAndTheOldOneStandsAside) {
  FakeSagaLog log_a(db_, {"orch-a", kLease});
  FakeSagaLog log_b(db_, {"orch-b", kLease});
  auto a = Runner(log_a);
  auto b = Runner(log_b);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());
  participants_.Script("book_hotel", {absl::UnavailableError("full")});
  a->EnqueueNew(NewSaga("s1", "orch-a"));
  a->RunDue();  // waits out a backoff, held by a
  // a stalls (no renewals) past its lease: b claims and finishes the saga.
  clock_.Advance(kLease + absl::Seconds(1));
  EXPECT_EQ(b->Tick(), 1u);
  b->RunDue();
  EXPECT_EQ(Status("s1"), SagaStatus::kCompleted);
  const size_t calls = participants_.calls().size();
  // a wakes up: its commit loses the race, and it makes no call.
  a->RunDue();
  EXPECT_EQ(participants_.calls().size(), calls);
  EXPECT_EQ(a->backlog(), 0u);
}

TEST_F(SagaRunnerTest, ARefusalCompensatesInReverseThroughTheRunner) {
  FakeSagaLog log(db_, {"orch-a", kLease});
  auto runner = Runner(log);
  ASSERT_TRUE(runner->Start().ok());
  participants_.Script("charge_card", {absl::FailedPreconditionError("no")});
  runner->EnqueueNew(NewSaga("s1", "orch-a"));
  runner->RunDue();
  EXPECT_EQ(participants_.calls(),
            (std::vector<std::string>{"book_flight", "book_hotel",
                                      "charge_card", "cancel_hotel",
                                      "cancel_flight", "close_trip"}));
  EXPECT_EQ(Status("s1"), SagaStatus::kCompensated);
}

// Answers come later, from other threads (as gRPC's do): one worker thread
// keeps max_in_flight sagas going at once, none of them holding it, and the
// rest wait their turn.
TEST_F(SagaRunnerTest, OneWorkerDrivesManySagasWhoseCallsAreOut) {
  BoundParticipants deferred;
  absl::Mutex mu;
  std::vector<CallDone> pending;
  int answered = 0;
  for (const std::string& name : definition_.CallNames()) {
    deferred.BindAsync(name, [&](const CallInput&, CallDone done) {
      absl::MutexLock lock(&mu);
      pending.push_back(std::move(done));
    });
  }
  FakeSagaLog log(db_, {"orch-a", kLease});
  SagaRunnerConfig config;
  config.workers = 1;
  config.max_in_flight = 3;
  SagaRunner runner(log, definition_, deferred, clock_, config);
  ASSERT_TRUE(runner.Start().ok());
  for (int i = 0; i < 5; ++i) {
    runner.EnqueueNew(NewSaga(absl::StrCat("s", i), "orch-a"));
  }
  auto calls_out = [&] {
    absl::MutexLock lock(&mu);
    return pending.size();
  };
  auto eventually = [](auto done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return done();
  };
  ASSERT_TRUE(eventually([&] { return calls_out() == 3; }));
  EXPECT_EQ(runner.in_flight(), 3u);
  EXPECT_EQ(runner.backlog(), 2u);
  // Answer every call out, from this thread, until all five are done.
  auto finished = [&] {
    for (int i = 0; i < 5; ++i) {
      if (Status(absl::StrCat("s", i)) != SagaStatus::kCompleted) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually([&] {
    std::vector<CallDone> answer;
    {
      absl::MutexLock lock(&mu);
      answer.swap(pending);
      answered += static_cast<int>(answer.size());
    }
    for (CallDone& done : answer) done(CallResult());
    return finished();
  }));
  runner.Stop();
  // Each saga made its five calls once.
  EXPECT_EQ(answered, 5 * 5);
  EXPECT_EQ(runner.in_flight(), 0u);
}

}  // namespace
}  // namespace sagaworks::orchestrator
