// The engine's transition on the order saga's definition: every path, with
// fixed times and draws; and what makes a definition refused.
#include "orchestrator/engine/decide.h"

#include "gtest/gtest.h"
#include "orchestrator/order_saga.h"

namespace sagaworks::orchestrator {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

class OrderSagaTest : public ::testing::Test {
 protected:
  // Makes the current call at `now` with `result` (beginning it first unless
  // the last answer began it); returns the decision on the answer.
  Decision Call(const absl::Status& result, absl::Time now = kT0,
                double draw = 0.5,
                std::optional<std::string> context = std::nullopt) {
    if (!begun_) Begin(now);
    Decision d = Decide(definition_, state_,
                        Event::Answered(result, now, draw, std::move(context)));
    state_ = d.state;
    begun_ = d.call.has_value();
    return d;
  }
  void Begin(absl::Time now = kT0) {
    Decision d = Decide(definition_, state_, Event::Resume(now));
    ASSERT_TRUE(d.call.has_value());
    state_ = d.state;
    begun_ = true;
  }
  void CancelNow(const std::string& reason) {
    Decision d = Decide(definition_, state_, Event::Cancel(reason, kT0));
    ASSERT_TRUE(d.refused.ok()) << d.refused;
    state_ = d.state;
    begun_ = false;
  }
  std::string Next() {
    auto call = CurrentCall(definition_, state_);
    return call ? call->name : "";
  }
  const SagaPolicy& policy() const { return definition_.policy; }

  SagaDefinition definition_ = OrderSagaDefinition();
  SagaState state_;
  bool begun_ = false;
};

TEST_F(OrderSagaTest, TheDefinitionIsValid) {
  EXPECT_TRUE(definition_.Validate().ok()) << definition_.Validate();
}

TEST_F(OrderSagaTest, HappyPathRunsFourStepsInOrder) {
  std::vector<std::string> calls;
  while (auto call = CurrentCall(definition_, state_)) {
    calls.push_back(call->name);
    EXPECT_EQ(Call(absl::OkStatus()).outcome, StepOutcome::kSucceeded);
  }
  EXPECT_EQ(calls,
            (std::vector<std::string>{"reserve_stock", "charge_payment",
                                      "create_shipment", "approve_order"}));
  EXPECT_EQ(state_.status, SagaStatus::kCompleted);
}

TEST_F(OrderSagaTest, AnAnswerLogsItsOutcomeAndBeginsTheNextCallInOneCommit) {
  Begin();
  Decision d = Call(absl::OkStatus(), kT0, 0.5, OrderContextBytes(4999));
  EXPECT_TRUE(d.commit);
  ASSERT_EQ(d.log.size(), 2u);
  EXPECT_EQ(d.log[0].name, "reserve_stock");
  EXPECT_EQ(d.log[0].outcome, "succeeded");
  EXPECT_EQ(d.log[1].name, "charge_payment");
  EXPECT_EQ(d.log[1].outcome, "started");
  EXPECT_EQ(d.log[1].attempt, 1);
  ASSERT_TRUE(d.call.has_value());
  EXPECT_EQ(d.call->name, "charge_payment");
  // The reservation's total feeds the later steps through the context.
  EXPECT_EQ(OrderTotalCents(state_), 4999);
}

// The timeline grows by calls: a call's outcome and its later attempts
// write its own entry; the next call, a cancel and an operator's action
// each open a new one.
TEST_F(OrderSagaTest, TimelineEntriesAreOnePerCall) {
  Begin();
  EXPECT_EQ(state_.call_entry, 1);
  Decision d = Call(absl::UnavailableError("down"));
  ASSERT_EQ(d.log.size(), 1u);
  EXPECT_EQ(d.log[0].id, 1);
  Begin();  // the retry
  EXPECT_EQ(state_.call_entry, 1);
  EXPECT_EQ(state_.timeline_entries, 1);
  d = Call(absl::OkStatus());
  ASSERT_EQ(d.log.size(), 2u);
  EXPECT_EQ(d.log[0].id, 1);  // reserve_stock succeeded
  EXPECT_EQ(d.log[1].id, 2);  // charge_payment started
  EXPECT_EQ(state_.call_entry, 2);
  d = Decide(definition_, state_, Event::Cancel("changed my mind", kT0));
  ASSERT_EQ(d.log.size(), 1u);
  EXPECT_EQ(d.log[0].id, 3);
  EXPECT_EQ(d.state.timeline_entries, 3);
}

TEST_F(OrderSagaTest, ContextChangesOnlyOnSuccess) {
  Call(absl::OkStatus(), kT0, 0.5, OrderContextBytes(100));
  Call(absl::UnavailableError("down"), kT0, 0.5, OrderContextBytes(7));
  EXPECT_EQ(OrderTotalCents(state_), 100);
}

TEST_F(OrderSagaTest, FirstCallIsBegunWithoutADeadline) {
  Decision first = FirstCall(definition_, kT0);
  EXPECT_EQ(first.state.attempt, 1);
  EXPECT_FALSE(first.state.step_deadline.has_value());
  ASSERT_EQ(first.log.size(), 1u);
  EXPECT_EQ(first.log[0].outcome, "started");
  // Driving it starts the step's clock and makes the call without a commit.
  Decision go = Decide(definition_, first.state,
                       Event::FirstCallStored(kT0 + absl::Seconds(1)));
  EXPECT_FALSE(go.commit);
  ASSERT_TRUE(go.call.has_value());
  EXPECT_EQ(go.state.attempt, 1);
  EXPECT_EQ(go.state.step_deadline,
            kT0 + absl::Seconds(1) + policy().step_timeout);
}

TEST_F(OrderSagaTest, RefusedChargeUndoesOnlyTheReservationThenRejects) {
  Call(absl::OkStatus());  // reserve
  Decision d = Call(absl::FailedPreconditionError("insufficient funds"));
  EXPECT_EQ(d.outcome, StepOutcome::kFailed);
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_NE(state_.failure_reason.find("insufficient funds"),
            std::string::npos);
  EXPECT_EQ(Next(), "release_stock");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
  Decision last = Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompensated);
  EXPECT_FALSE(CurrentCall(definition_, state_).has_value());
  EXPECT_FALSE(last.call.has_value());
  EXPECT_FALSE(last.wake_at.has_value());
}

TEST_F(OrderSagaTest, RefusedReservationCompensatesNothingButRejects) {
  Call(absl::FailedPreconditionError("out of stock"));
  EXPECT_EQ(Next(), "reject_order");
}

TEST_F(OrderSagaTest, RefusedShipmentUndoesChargeThenReservation) {
  Call(absl::OkStatus());
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("undeliverable"));
  EXPECT_EQ(Next(), "refund_payment");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "release_stock");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
}

TEST_F(OrderSagaTest, TransientFailureRetriesWithGrowingBoundedBackoff) {
  absl::Duration last_ceiling = absl::ZeroDuration();
  for (int i = 1; i <= 4; ++i) {
    Decision d = Call(absl::UnavailableError("down"), kT0, /*draw=*/0.999);
    ASSERT_EQ(d.outcome, StepOutcome::kRetrying);
    ASSERT_TRUE(d.wake_at.has_value());
    EXPECT_FALSE(d.call.has_value());
    EXPECT_EQ(state_.attempt, i);
    const absl::Duration after = *d.wake_at - kT0;
    EXPECT_GT(after, last_ceiling * 0.99);
    EXPECT_LE(after, policy().action_backoff.max);
    last_ceiling = after;
  }
  EXPECT_EQ(Next(), "reserve_stock");
  EXPECT_EQ(Call(absl::OkStatus()).outcome, StepOutcome::kSucceeded);
  EXPECT_EQ(state_.attempt, 1);  // the next step's first attempt is out
}

TEST_F(OrderSagaTest, StepDeadlineTurnsTransientFailuresIntoCompensation) {
  Call(absl::OkStatus());  // reserve, and the charge begun at kT0
  Call(absl::UnavailableError("payment down"), kT0);
  ASSERT_EQ(state_.status, SagaStatus::kRunning);
  ASSERT_TRUE(state_.step_deadline.has_value());
  EXPECT_EQ(*state_.step_deadline, kT0 + policy().step_timeout);
  // Past the deadline: the charge may or may not have happened, so it is
  // refunded too.
  Decision d =
      Call(absl::DeadlineExceededError("slow"), kT0 + policy().step_timeout);
  EXPECT_EQ(d.outcome, StepOutcome::kFailed);
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_EQ(Next(), "refund_payment");
  EXPECT_NE(state_.failure_reason.find("gave up after 2 attempts"),
            std::string::npos);
}

TEST_F(OrderSagaTest, ApproveIsRetriedForeverPastTheLastUndoableStep) {
  for (int i = 0; i < 3; ++i) Call(absl::OkStatus());
  for (int i = 0; i < 50; ++i) {
    const absl::Time now = kT0 + absl::Hours(i);
    Decision d = Call(absl::UnavailableError("order down"), now);
    ASSERT_EQ(d.outcome, StepOutcome::kRetrying);
    EXPECT_LE(*d.wake_at - now, policy().compensation_backoff.max);
  }
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompleted);
}

TEST_F(OrderSagaTest, CompensationsRetryUntilTheySucceed) {
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("insufficient funds"));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(
        Call(absl::UnavailableError("inventory down"), kT0 + absl::Hours(i))
            .outcome,
        StepOutcome::kRetrying);
    EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  }
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
}

TEST_F(OrderSagaTest, RefusedCompensationFailsTheSagaForAnOperator) {
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("insufficient funds"));
  Decision d = Call(absl::NotFoundError("no such reservation table"));
  EXPECT_EQ(d.outcome, StepOutcome::kFailed);
  EXPECT_NE(state_.failure_reason.find("compensation failed"),
            std::string::npos);
  EXPECT_EQ(state_.failed_step, 1);
  // The order is put on hold first, retried until that succeeds; nothing
  // else is undone meanwhile.
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_EQ(Next(), "hold_order");
  EXPECT_EQ(Call(absl::UnavailableError("order down")).outcome,
            StepOutcome::kRetrying);
  EXPECT_EQ(Next(), "hold_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kFailed);
  EXPECT_FALSE(CurrentCall(definition_, state_).has_value());
  // A failed saga cannot be cancelled.
  EXPECT_EQ(Decide(definition_, state_, Event::Cancel("", kT0)).refused.code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(OrderSagaTest, AnOperatorRetriesTheRefusedCompensationOfAFailedSaga) {
  Call(absl::OkStatus());                                 // reserved
  Call(absl::OkStatus());                                 // charged
  Call(absl::FailedPreconditionError("no courier"));      // shipping refused
  Call(absl::FailedPreconditionError("account closed"));  // refund refused
  Call(absl::OkStatus());                                 // order on hold
  ASSERT_EQ(state_.status, SagaStatus::kFailed);
  ASSERT_EQ(state_.failed_step, 2);

  Decision d = Decide(definition_, state_,
                      Event::Retry("ops-ann", "account reopened", kT0));
  ASSERT_TRUE(d.refused.ok()) << d.refused;
  EXPECT_TRUE(d.commit);
  EXPECT_EQ(d.wake_at, kT0);
  ASSERT_EQ(d.log.size(), 1u);
  EXPECT_EQ(d.log[0].name, "operator_retry");
  EXPECT_EQ(d.log[0].actor, "ops-ann");
  EXPECT_EQ(d.log[0].note, "account reopened");
  state_ = d.state;
  begun_ = false;
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_FALSE(state_.failed_step.has_value());
  // The refused refund again, then the rest of the undo, in reverse.
  EXPECT_EQ(Next(), "refund_payment");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "release_stock");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompensated);
  // Nothing left to retry.
  EXPECT_EQ(Decide(definition_, state_, Event::Retry("ops-ann", "again", kT0))
                .refused.code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(OrderSagaTest, RetryAppliesOnlyToAFailedSaga) {
  Call(absl::OkStatus());
  const Decision d =
      Decide(definition_, state_, Event::Retry("ops-ann", "why", kT0));
  EXPECT_EQ(d.refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(d.commit);
  EXPECT_TRUE(d.log.empty());
}

TEST_F(OrderSagaTest, AnOperatorResolvesAFailedSagaEitherWay) {
  Call(absl::OkStatus());
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("no courier"));
  Call(absl::FailedPreconditionError("account closed"));
  Call(absl::OkStatus());
  ASSERT_EQ(state_.status, SagaStatus::kFailed);
  const SagaState failed = state_;

  // Refunded by hand: the order is rejected, nothing else is called.
  Decision d = Decide(definition_, failed,
                      Event::Resolve(Resolution::kCompensated, "ops-ann",
                                     "refunded by bank transfer", kT0));
  ASSERT_TRUE(d.refused.ok()) << d.refused;
  EXPECT_EQ(d.log.at(0).name, "operator_resolve_compensated");
  state_ = d.state;
  begun_ = false;
  EXPECT_EQ(Next(), "reject_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompensated);

  // Shipped by hand: the steps that cannot be undone are made (approve).
  d = Decide(definition_, failed,
             Event::Resolve(Resolution::kCompleted, "ops-ann",
                            "shipped with another courier", kT0));
  ASSERT_TRUE(d.refused.ok()) << d.refused;
  EXPECT_EQ(d.log.at(0).name, "operator_resolve_completed");
  state_ = d.state;
  begun_ = false;
  EXPECT_EQ(state_.status, SagaStatus::kRunning);
  EXPECT_EQ(Next(), "approve_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompleted);
  // An ended saga is not resolved again.
  EXPECT_EQ(
      Decide(definition_, state_,
             Event::Resolve(Resolution::kCompensated, "ops-ann", "x", kT0))
          .refused.code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_F(OrderSagaTest, AnOperatorResolvesASagaThatIsStillRetrying) {
  Call(absl::OkStatus());
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("no courier"));
  Call(absl::UnavailableError("payment down"));  // the refund retries
  ASSERT_EQ(state_.status, SagaStatus::kCompensating);
  const Decision d = Decide(definition_, state_,
                            Event::Resolve(Resolution::kCompensated, "ops-ann",
                                           "refunded by hand", kT0));
  ASSERT_TRUE(d.refused.ok()) << d.refused;
  state_ = d.state;
  begun_ = false;
  EXPECT_EQ(Next(), "reject_order");
}

TEST_F(OrderSagaTest, CancellingARunningSagaUndoesWhatMayHaveHappened) {
  Call(absl::OkStatus());  // reserved; the charge went out (attempt 1)
  CancelNow("changed my mind");
  EXPECT_TRUE(state_.cancel_requested);
  EXPECT_EQ(state_.failure_reason, "cancelled: changed my mind");
  EXPECT_EQ(Next(), "refund_payment");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "release_stock");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompensated);
  EXPECT_TRUE(state_.cancel_requested);  // the order ends CANCELLED
}

TEST_F(OrderSagaTest, CancellingBeforeAStepWentOutSkipsThatStep) {
  // Reserved, and the charge waits out a backoff with no attempt made yet.
  state_.current_step = 2;
  CancelNow("");
  EXPECT_EQ(Next(), "release_stock");
  EXPECT_EQ(state_.failure_reason, "cancelled");
}

TEST_F(OrderSagaTest, CancelLogsItAndWakesTheSaga) {
  Call(absl::OkStatus());
  Decision d = Decide(definition_, state_, Event::Cancel("", kT0));
  ASSERT_EQ(d.log.size(), 1u);
  EXPECT_EQ(d.log[0].name, "cancel_requested");
  EXPECT_EQ(d.wake_at, kT0);
}

TEST_F(OrderSagaTest, CancellingACompletedSagaUndoesEveryStep) {
  for (int i = 0; i < 4; ++i) Call(absl::OkStatus());
  ASSERT_EQ(state_.status, SagaStatus::kCompleted);
  CancelNow("");
  std::vector<std::string> undone;
  while (auto call = CurrentCall(definition_, state_)) {
    undone.push_back(call->name);
    Call(absl::OkStatus());
  }
  EXPECT_EQ(undone,
            (std::vector<std::string>{"cancel_shipment", "refund_payment",
                                      "release_stock", "reject_order"}));
}

TEST_F(OrderSagaTest, CancelIsIdempotentAndRefusedAfterARejection) {
  Call(absl::OkStatus());
  CancelNow("a");
  const SagaState once = state_;
  Decision twice = Decide(definition_, once, Event::Cancel("b", kT0));
  EXPECT_FALSE(twice.commit);
  EXPECT_EQ(twice.state.failure_reason, once.failure_reason);
  EXPECT_EQ(twice.state.current_step, once.current_step);

  state_ = SagaState();
  begun_ = false;
  Call(absl::OkStatus());
  Call(absl::FailedPreconditionError("no funds"));
  // Already undoing for another reason: a cancel would change nothing.
  Decision refused = Decide(definition_, state_, Event::Cancel("", kT0));
  EXPECT_EQ(refused.refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(refused.commit);
}

TEST_F(OrderSagaTest, AStateTheDefinitionHasNoCallForFailsInsteadOfWaiting) {
  state_.current_step = 9;  // stored by a definition with more steps
  Decision d = Decide(definition_, state_, Event::Resume(kT0));
  EXPECT_EQ(d.state.status, SagaStatus::kFailed);
  EXPECT_NE(d.state.failure_reason.find("step 9"), std::string::npos);
  EXPECT_TRUE(d.commit);
}

TEST_F(OrderSagaTest, EndedSagasDecideNothing) {
  state_.status = SagaStatus::kCompleted;
  Decision d = Decide(definition_, state_, Event::Resume(kT0));
  EXPECT_FALSE(d.commit);
  EXPECT_FALSE(d.call.has_value());
  EXPECT_FALSE(d.wake_at.has_value());
}

TEST(SagaStatusTest, NamesRoundTrip) {
  for (SagaStatus s :
       {SagaStatus::kRunning, SagaStatus::kCompleted, SagaStatus::kCompensating,
        SagaStatus::kCompensated, SagaStatus::kFailed}) {
    EXPECT_EQ(ParseSagaStatus(SagaStatusName(s)), s);
  }
  EXPECT_FALSE(ParseSagaStatus("bogus").has_value());
}

TEST(BusinessFailureTest, ClassifiesCodes) {
  EXPECT_TRUE(IsBusinessFailure(absl::FailedPreconditionError("")));
  EXPECT_TRUE(IsBusinessFailure(absl::NotFoundError("")));
  EXPECT_TRUE(IsBusinessFailure(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsBusinessFailure(absl::UnavailableError("")));
  EXPECT_FALSE(IsBusinessFailure(absl::DeadlineExceededError("")));
  EXPECT_FALSE(IsBusinessFailure(absl::ResourceExhaustedError("")));
  EXPECT_FALSE(IsBusinessFailure(absl::AbortedError("")));
}

// A definition that validates, to break one rule at a time.
SagaDefinition Valid() {
  SagaDefinition d;
  d.type = "test";
  d.steps = {{"a", "undo_a", RetryPolicy::UntilStepDeadline(), false},
             {"b", "undo_b", RetryPolicy::Attempts(3), true},
             {"c", "", RetryPolicy::Forever(), false}};
  d.on_compensated = "close";
  return d;
}

void ExpectRefused(const SagaDefinition& d, const std::string& why) {
  absl::Status s = d.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(why), absl::string_view::npos) << s;
}

TEST(SagaDefinitionTest, RefusesInconsistentDefinitions) {
  ASSERT_TRUE(Valid().Validate().ok()) << Valid().Validate();
  SagaDefinition d = Valid();
  d.steps.clear();
  ExpectRefused(d, "no steps");
  d = Valid();
  d.steps[1].name = "a";
  ExpectRefused(d, "\"a\" is used twice");
  d = Valid();
  d.on_compensated = "undo_b";
  ExpectRefused(d, "\"undo_b\" is used twice");
  d = Valid();
  d.steps[2].pivot = true;
  ExpectRefused(d, "both the pivot");
  d = Valid();
  d.steps[0].compensation.clear();
  d.steps[0].retry = RetryPolicy::Forever();
  ExpectRefused(d, "\"b\" has a compensation but comes after \"a\"");
  d = Valid();
  d.steps[2].retry = RetryPolicy::UntilStepDeadline();
  ExpectRefused(d, "\"c\" cannot be undone, so it must retry");
  d = Valid();
  d.steps[1].retry = RetryPolicy::Attempts(0);
  ExpectRefused(d, "below 1");
  d = Valid();
  d.steps[1].pivot = false;
  d.steps[2].pivot = true;
  d.steps.push_back({"d", "", RetryPolicy::Forever(), false});
  d.steps[1].compensation.clear();
  d.steps[1].retry = RetryPolicy::Forever();
  ExpectRefused(d, "comes before the pivot \"c\" but cannot be undone");
  d = Valid();
  d.policy.step_timeout = absl::ZeroDuration();
  ExpectRefused(d, "step timeout");
}

TEST(SagaDefinitionTest, CountedRetriesGiveUpAfterTheirAttempts) {
  SagaDefinition d = Valid();
  SagaState s;
  s.current_step = 2;
  for (int i = 1; i <= 3; ++i) {
    s = Decide(d, s, Event::Resume(kT0)).state;
    Decision answered =
        Decide(d, s, Event::Answered(absl::UnavailableError("x"), kT0, 0.5));
    s = answered.state;
    if (i < 3) {
      EXPECT_EQ(answered.outcome, StepOutcome::kRetrying) << i;
    } else {
      EXPECT_EQ(answered.outcome, StepOutcome::kFailed);
      EXPECT_EQ(s.status, SagaStatus::kCompensating);
      EXPECT_EQ(CurrentCall(d, s)->name, "undo_b");  // b itself is undone
    }
  }
}

TEST(SagaDefinitionTest, NothingToUndoAndNoClosingCallEndsCompensated) {
  SagaDefinition d = Valid();
  d.on_compensated.clear();
  SagaState s = Decide(d, SagaState(), Event::Resume(kT0)).state;
  Decision refused = Decide(
      d, s, Event::Answered(absl::FailedPreconditionError("no"), kT0, 0.5));
  EXPECT_EQ(refused.state.status, SagaStatus::kCompensated);
  EXPECT_FALSE(refused.call.has_value());
  EXPECT_FALSE(refused.wake_at.has_value());
}

}  // namespace
}  // namespace sagaworks::orchestrator
