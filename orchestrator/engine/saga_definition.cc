#include "orchestrator/engine/saga_definition.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace sagaworks::orchestrator {

absl::Status SagaPolicy::Validate() const {
  if (step_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("step timeout must be positive");
  }
  if (absl::Status s = action_backoff.Validate(); !s.ok()) return s;
  return compensation_backoff.Validate();
}

std::vector<std::string> SagaDefinition::CallNames() const {
  std::vector<std::string> names;
  for (const StepDefinition& s : steps) names.push_back(s.name);
  for (const StepDefinition& s : steps) {
    if (!s.compensation.empty()) names.push_back(s.compensation);
  }
  if (!on_compensated.empty()) names.push_back(on_compensated);
  if (!on_failed.empty()) names.push_back(on_failed);
  return names;
}

absl::Status SagaDefinition::Validate() const {
  auto refuse = [this](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("saga definition \"", type, "\": ", why));
  };
  if (type.empty()) return refuse("has no type name");
  if (steps.empty()) return refuse("has no steps");
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : CallNames()) {
    if (name.empty()) return refuse("a step has no name");
    if (!seen.insert(name).second) {
      return refuse(absl::StrCat("the call name \"", name,
                                 "\" is used twice (names key the step log "
                                 "and idempotency keys)"));
    }
  }
  int pivot = 0;
  const StepDefinition* irreversible = nullptr;
  for (int n = 1; n <= size(); ++n) {
    const StepDefinition& s = step(n);
    if (s.pivot) {
      if (pivot != 0) {
        return refuse(absl::StrCat("steps \"", step(pivot).name, "\" and \"",
                                   s.name, "\" are both the pivot"));
      }
      pivot = n;
    }
    if (s.retry.kind == RetryPolicy::Kind::kAttempts &&
        s.retry.max_attempts < 1) {
      return refuse(absl::StrCat("step \"", s.name,
                                 "\" retries a count of attempts below 1"));
    }
    if (s.compensation.empty()) {
      if (s.retry.kind != RetryPolicy::Kind::kForever) {
        return refuse(absl::StrCat(
            "step \"", s.name,
            "\" cannot be undone, so it must retry until it succeeds (its "
            "last attempt may have taken effect when it gives up)"));
      }
      if (irreversible == nullptr) irreversible = &s;
    } else if (irreversible != nullptr) {
      return refuse(absl::StrCat("step \"", s.name,
                                 "\" has a compensation but "
                                 "comes after \"",
                                 irreversible->name,
                                 "\", which cannot be undone"));
    }
  }
  for (int n = 1; n < pivot; ++n) {
    if (step(n).compensation.empty()) {
      return refuse(absl::StrCat("step \"", step(n).name,
                                 "\" comes before the pivot \"",
                                 step(pivot).name, "\" but cannot be undone"));
    }
  }
  return policy.Validate();
}

}  // namespace sagaworks::orchestrator
