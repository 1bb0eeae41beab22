// Model test of the engine: thousands of seeded runs of a saga against a
// simulated world whose participants succeed, refuse, fail transiently
// (before or after taking effect), while the orchestrator crashes and
// resumes and customers cancel at random points. After each run the
// invariants a user relies on are checked.
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/decide.h"
#include "orchestrator/order_saga.h"
#include "tests/orchestrator/test_sagas.h"

namespace sagaworks::orchestrator {
namespace {

const absl::Time kEpoch = absl::FromUnixSeconds(1700000000);

// The participants as the platform's services behave: every effect applied
// at most once per key; a compensation that arrives before its action leaves
// a tombstone and the late action is refused.
class World {
 public:
  World(const SagaDefinition& d, std::mt19937_64& rng) : d_(d), rng_(rng) {
    for (int n = 1; n <= d.size(); ++n) {
      action_step_[d.step(n).name] = n;
      if (!d.step(n).compensation.empty()) {
        undo_step_[d.step(n).compensation] = n;
      }
    }
  }

  // After `heal`, nothing fails transiently any more, so every run ends.
  absl::Status Call(const SagaCall& call, bool healed) {
    std::uniform_real_distribution<double> u(0, 1);
    const double r = u(rng_);
    const double transient = healed ? 0 : 0.3;
    if (call.kind == CallKind::kAction) {
      const int n = action_step_.at(call.name);
      if (undone_.count(n) > 0) {
        return absl::FailedPreconditionError("compensated before it ran");
      }
      if (applied_.count(n) == 0 && r < 0.05) {
        return absl::FailedPreconditionError("refused");
      }
      if (r < 0.05 + transient / 2) return absl::UnavailableError("down");
      Apply(n);
      if (r < 0.05 + transient) return absl::DeadlineExceededError("slow");
      return absl::OkStatus();
    }
    if (call.name == d_.on_failed) {
      if (r < transient) return absl::UnavailableError("down");
      ++held_;
      effects_.push_back("hold");
      return absl::OkStatus();
    }
    if (call.step == 0) {
      if (r < transient) return absl::UnavailableError("down");
      ++closed_;
      effects_.push_back("close");
      return absl::OkStatus();
    }
    const int n = undo_step_.at(call.name);
    // Started: an attempt at the step is on record (whether its call went
    // out before a crash is unknown, so undoing it is right).
    if (started_.count(n) == 0) {
      ADD_FAILURE() << "compensation " << call.name
                    << " for a step that never started";
    }
    if (r < 0.005) {
      refused_compensation_ = true;
      return absl::FailedPreconditionError("cannot undo");
    }
    if (r < 0.005 + transient / 2) return absl::UnavailableError("down");
    if (undone_.insert(n).second) {
      if (applied_.count(n) > 0) effects_.push_back(absl::StrCat("undo ", n));
    }
    if (r < 0.005 + transient) return absl::DeadlineExceededError("slow");
    return absl::OkStatus();
  }

  void Apply(int n) {
    if (!applied_.insert(n).second) return;
    for (int before = 1; before < n; ++before) {
      if (applied_.count(before) == 0 || undone_.count(before) > 0) {
        ADD_FAILURE() << "step " << n << " took effect before step " << before;
      }
    }
    effects_.push_back(absl::StrCat("do ", n));
  }

  const SagaDefinition& d_;
  std::mt19937_64& rng_;
  std::map<std::string, int> action_step_, undo_step_;
  std::set<int> started_, applied_, undone_;
  std::vector<std::string> effects_;
  int closed_ = 0;
  int held_ = 0;
  bool refused_compensation_ = false;
};

// What the runs went through, so the test shows it covered each path.
struct Coverage {
  std::map<SagaStatus, int> ended;
  int crashes = 0;
  int cancels = 0;
  int retries = 0;
  int gave_up = 0;
};

// One saga run: `committed` is what the store holds; the driver's memory is
// lost at each crash.
void RunOnce(const SagaDefinition& d, uint64_t seed, Coverage& seen) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  World world(d, rng);
  absl::Time now = kEpoch;
  Decision first = FirstCall(d, now);
  SagaState committed = first.state;
  auto commit = [&](const Decision& dec) {
    committed = dec.state;
    for (const StepLogEntry& e : dec.log) {
      if (e.kind == CallKind::kAction && e.outcome == "started") {
        world.started_.insert(e.step);
      }
    }
  };
  commit(first);
  bool cancel_accepted = false;
  // The driver: the decision it acts on.
  Decision d_now = Decide(d, committed, Event::FirstCallStored(now));
  int events = 0;
  constexpr int kHealAfter = 60;
  constexpr int kMaxEvents = 2000;
  auto check_moves = [&](const Decision& dec) {
    if (!IsTerminal(dec.state.status)) {
      ASSERT_TRUE(dec.call.has_value() || dec.wake_at.has_value())
          << "seed " << seed << ": a saga left "
          << SagaStatusName(dec.state.status) << " with no next move at step "
          << dec.state.current_step;
    }
  };
  while (++events < kMaxEvents) {
    check_moves(d_now);
    if (d_now.commit) commit(d_now);
    const double r = u(rng);
    if (r < 0.05) {
      // Crash: whatever was decided and not committed is gone; the call may
      // or may not have gone out.
      if (d_now.call.has_value() && u(rng) < 0.5) {
        world.Call(*d_now.call, events > kHealAfter).IgnoreError();
      }
      d_now = Decide(d, committed, Event::Resume(now));
      ++seen.crashes;
      continue;
    }
    if (r < 0.08 && !committed.cancel_requested) {
      // A customer cancels (CancelSaga holds the row: the driver's next
      // commit loses its race and it starts again from what is stored).
      Decision c = Decide(d, committed, Event::Cancel("changed my mind", now));
      if (c.refused.ok() && c.commit) {
        if (d_now.call.has_value() && u(rng) < 0.5) {
          world.Call(*d_now.call, events > kHealAfter).IgnoreError();
        }
        commit(c);
        cancel_accepted = true;
        ++seen.cancels;
        check_moves(c);
        d_now = Decide(d, committed, Event::Resume(now));
      }
      continue;
    }
    if (d_now.call.has_value()) {
      now += absl::Milliseconds(1 + rng() % 3000);
      const absl::Status result = world.Call(*d_now.call, events > kHealAfter);
      std::optional<std::string> context;
      if (result.ok() && d_now.call->kind == CallKind::kAction) {
        context = absl::StrCat(d_now.state.context, d_now.call->name, ";");
      }
      d_now =
          Decide(d, d_now.state, Event::Answered(result, now, u(rng), context));
      if (d_now.outcome == StepOutcome::kRetrying) ++seen.retries;
      if (absl::StrContains(d_now.state.failure_reason, "gave up")) {
        ++seen.gave_up;
      }
      continue;
    }
    if (d_now.wake_at.has_value()) {
      now = std::max(now, *d_now.wake_at);
      d_now = Decide(d, committed, Event::Resume(now));
      continue;
    }
    break;  // ended
  }
  const SagaState& end = committed;
  ++seen.ended[end.status];
  ASSERT_TRUE(IsTerminal(end.status))
      << "seed " << seed << ": still " << SagaStatusName(end.status)
      << " after " << events << " events";
  std::string effects;
  for (const auto& e : world.effects_) absl::StrAppend(&effects, e, ", ");
  SCOPED_TRACE(absl::StrCat("seed ", seed, ": ", SagaStatusName(end.status),
                            " (", end.failure_reason, "); effects: ", effects));
  switch (end.status) {
    case SagaStatus::kCompleted: {
      EXPECT_FALSE(cancel_accepted);
      EXPECT_EQ(world.applied_.size(), static_cast<size_t>(d.size()));
      EXPECT_TRUE(world.undone_.empty());
      EXPECT_EQ(world.closed_, 0);
      std::string all;
      for (const auto& s : d.steps) absl::StrAppend(&all, s.name, ";");
      EXPECT_EQ(end.context, all) << "each step's result fed the next";
      break;
    }
    case SagaStatus::kCompensated: {
      // Every step that took effect and can be undone was undone, from the
      // last one down, and the closing call came after all of them.
      for (int n : world.applied_) {
        if (!d.step(n).compensation.empty()) {
          EXPECT_EQ(world.undone_.count(n), 1u) << "step " << n;
        }
      }
      int last_undone = d.size() + 1;
      bool closed = false;
      for (const auto& e : world.effects_) {
        if (e == "close") closed = true;
        if (absl::StartsWith(e, "undo ")) {
          EXPECT_FALSE(closed) << "undo after the closing call";
          const int n = std::stoi(e.substr(5));
          EXPECT_LT(n, last_undone) << "undone out of order";
          last_undone = n;
        }
      }
      if (!d.on_compensated.empty()) {
        EXPECT_GE(world.closed_, 1);
        EXPECT_EQ(world.effects_.back(), "close");
      }
      EXPECT_EQ(end.cancel_requested, cancel_accepted);
      break;
    }
    case SagaStatus::kFailed:
      // Only a refused compensation leaves it to an operator, and the
      // failure was reported (the order put on hold) before it ended.
      EXPECT_TRUE(world.refused_compensation_);
      EXPECT_TRUE(end.failed_step.has_value());
      if (!d.on_failed.empty()) {
        EXPECT_GE(world.held_, 1);
        EXPECT_EQ(world.effects_.back(), "hold");
      }
      EXPECT_EQ(world.closed_, 0);
      break;
    default:
      break;
  }
}

class SagaModelTest : public ::testing::TestWithParam<int> {};

SagaDefinition DefinitionFor(int which) {
  return which == 0 ? testing::TripSagaDefinition() : OrderSagaDefinition();
}

TEST_P(SagaModelTest, EveryRunEndsKeptOrUndoneInReverse) {
  const SagaDefinition d = DefinitionFor(GetParam());
  ASSERT_TRUE(d.Validate().ok()) << d.Validate();
  constexpr uint64_t kRuns = 3000;
  Coverage seen;
  for (uint64_t seed = 1; seed <= kRuns; ++seed) {
    RunOnce(d, seed * 7919 + static_cast<uint64_t>(GetParam()), seen);
    if (HasFailure()) break;
  }
  EXPECT_GT(seen.ended[SagaStatus::kCompleted], 100);
  EXPECT_GT(seen.ended[SagaStatus::kCompensated], 100);
  EXPECT_GT(seen.ended[SagaStatus::kFailed], 0);
  EXPECT_GT(seen.crashes, 1000);
  EXPECT_GT(seen.cancels, 100);
  EXPECT_GT(seen.retries, 1000);
  EXPECT_GT(seen.gave_up, 10);
}

INSTANTIATE_TEST_SUITE_P(Definitions, SagaModelTest, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("FiveStepTrip")
                                                  : std::string("Order");
                         });

TEST(FiveStepSagaTest, RunsEveryStepInOrderAndUndoesInReverse) {
  const SagaDefinition d = testing::TripSagaDefinition();
  SagaState s = FirstCall(d, kEpoch).state;
  std::vector<std::string> calls;
  // Steps 1-3 succeed; send_tickets is refused, so 3, 2, 1 are undone.
  for (int i = 0; i < 10; ++i) {
    std::optional<SagaCall> call = CurrentCall(d, s);
    if (!call.has_value()) break;
    calls.push_back(call->name);
    const absl::Status result = call->name == "send_tickets"
                                    ? absl::FailedPreconditionError("no")
                                    : absl::OkStatus();
    s = Decide(d, s, Event::Answered(result, kEpoch, 0.5)).state;
  }
  EXPECT_EQ(calls,
            (std::vector<std::string>{
                "book_flight", "book_hotel", "charge_card", "send_tickets",
                "refund_card", "cancel_hotel", "cancel_flight", "close_trip"}));
  EXPECT_EQ(s.status, SagaStatus::kCompensated);
}

}  // namespace
}  // namespace sagaworks::orchestrator
