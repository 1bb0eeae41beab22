// The order saga state machine: every path, with fixed times and draws.
#include "orchestrator/order_saga.h"

#include "gtest/gtest.h"

namespace sagaworks::orchestrator {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

class OrderSagaTest : public ::testing::Test {
 protected:
  // Makes the next call at `now` with `result`; returns the transition.
  Transition Call(const absl::Status& result, absl::Time now = kT0,
                  double draw = 0.5) {
    const SagaState begun = BeginCall(state_, now, policy_);
    Transition t = Advance(begun, result, now, policy_, draw);
    state_ = t.next;
    return t;
  }
  std::string Next() {
    auto call = NextCall(state_);
    return call ? std::string(call->name) : "";
  }

  SagaPolicy policy_;
  SagaState state_;
};

TEST_F(OrderSagaTest, HappyPathRunsFourStepsInOrder) {
  std::vector<std::string> calls;
  while (auto call = NextCall(state_)) {
    calls.emplace_back(call->name);
    EXPECT_EQ(Call(absl::OkStatus()).outcome, StepOutcome::kSucceeded);
  }
  EXPECT_EQ(calls,
            (std::vector<std::string>{"reserve_stock", "charge_payment",
                                      "create_shipment", "approve_order"}));
  EXPECT_EQ(state_.status, SagaStatus::kCompleted);
}

TEST_F(OrderSagaTest, RefusedChargeUndoesOnlyTheReservationThenRejects) {
  Call(absl::OkStatus());  // reserve
  Transition t = Call(absl::FailedPreconditionError("insufficient funds"));
  EXPECT_EQ(t.outcome, StepOutcome::kFailed);
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_NE(state_.failure_reason.find("insufficient funds"),
            std::string::npos);
  EXPECT_EQ(Next(), "release_stock");
  Call(absl::OkStatus());
  EXPECT_EQ(Next(), "reject_order");
  Call(absl::OkStatus());
  EXPECT_EQ(state_.status, SagaStatus::kCompensated);
  EXPECT_FALSE(NextCall(state_).has_value());
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
    Transition t = Call(absl::UnavailableError("down"), kT0, /*draw=*/0.999);
    ASSERT_EQ(t.outcome, StepOutcome::kRetrying);
    EXPECT_EQ(state_.attempt, i);
    EXPECT_GT(t.retry_after, last_ceiling * 0.99);
    EXPECT_LE(t.retry_after, policy_.action_backoff.max);
    last_ceiling = t.retry_after;
  }
  EXPECT_EQ(Next(), "reserve_stock");
  EXPECT_EQ(Call(absl::OkStatus()).outcome, StepOutcome::kSucceeded);
  EXPECT_EQ(state_.attempt, 0);  // the next step starts afresh
  EXPECT_FALSE(state_.step_deadline.has_value());
}

TEST_F(OrderSagaTest, StepDeadlineTurnsTransientFailuresIntoCompensation) {
  Call(absl::OkStatus());  // reserve
  Call(absl::UnavailableError("payment down"), kT0);
  ASSERT_EQ(state_.status, SagaStatus::kRunning);
  ASSERT_TRUE(state_.step_deadline.has_value());
  EXPECT_EQ(*state_.step_deadline, kT0 + policy_.step_timeout);
  // Past the deadline: the charge may or may not have happened, so it is
  // refunded too.
  Transition t =
      Call(absl::DeadlineExceededError("slow"), kT0 + policy_.step_timeout);
  EXPECT_EQ(t.outcome, StepOutcome::kFailed);
  EXPECT_EQ(state_.status, SagaStatus::kCompensating);
  EXPECT_EQ(Next(), "refund_payment");
  EXPECT_NE(state_.failure_reason.find("gave up after 2 attempts"),
            std::string::npos);
}

TEST_F(OrderSagaTest, ApproveIsRetriedForeverPastThePivot) {
  for (int i = 0; i < 3; ++i) Call(absl::OkStatus());
  for (int i = 0; i < 50; ++i) {
    Transition t =
        Call(absl::UnavailableError("order down"), kT0 + absl::Hours(i));
    ASSERT_EQ(t.outcome, StepOutcome::kRetrying);
    EXPECT_LE(t.retry_after, policy_.compensation_backoff.max);
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
  Transition t = Call(absl::NotFoundError("no such reservation table"));
  EXPECT_EQ(t.outcome, StepOutcome::kFailed);
  EXPECT_EQ(state_.status, SagaStatus::kFailed);
  EXPECT_NE(state_.failure_reason.find("compensation failed"),
            std::string::npos);
  EXPECT_FALSE(NextCall(state_).has_value());
}

TEST_F(OrderSagaTest, CancellingARunningSagaUndoesWhatMayHaveHappened) {
  Call(absl::OkStatus());  // reserved
  // The charge went out (attempt 1) and its answer is not in yet.
  state_ = BeginCall(state_, kT0, policy_);
  absl::StatusOr<SagaState> cancelled = Cancel(state_, "changed my mind");
  ASSERT_TRUE(cancelled.ok());
  state_ = *cancelled;
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
  Call(absl::OkStatus());  // reserved; the charge has not been attempted
  state_ = *Cancel(state_, "");
  EXPECT_EQ(Next(), "release_stock");
  EXPECT_EQ(state_.failure_reason, "cancelled");
}

TEST_F(OrderSagaTest, CancellingACompletedSagaUndoesEveryStep) {
  for (int i = 0; i < 4; ++i) Call(absl::OkStatus());
  ASSERT_EQ(state_.status, SagaStatus::kCompleted);
  state_ = *Cancel(state_, "");
  std::vector<std::string> undone;
  while (auto call = NextCall(state_)) {
    undone.emplace_back(call->name);
    Call(absl::OkStatus());
  }
  EXPECT_EQ(undone,
            (std::vector<std::string>{"cancel_shipment", "refund_payment",
                                      "release_stock", "reject_order"}));
}

TEST_F(OrderSagaTest, CancelIsIdempotentAndRefusedAfterARejection) {
  Call(absl::OkStatus());
  SagaState once = *Cancel(state_, "a");
  SagaState twice = *Cancel(once, "b");
  EXPECT_EQ(twice.failure_reason, once.failure_reason);
  EXPECT_EQ(twice.current_step, once.current_step);

  SagaState refused;
  refused.current_step = kChargePayment;
  refused.attempt = 1;
  refused = Advance(refused, absl::FailedPreconditionError("no funds"), kT0,
                    policy_, 0.5)
                .next;
  EXPECT_EQ(Cancel(refused, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
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

}  // namespace
}  // namespace sagaworks::orchestrator
