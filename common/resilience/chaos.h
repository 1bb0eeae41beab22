// FaultInjector: the rules of ChaosService, consulted by every handler. A rule
// applies to one full method name ("/sagaworks.v1.PaymentService/Charge") or,
// with an empty method, to all of the process's methods; a method's own rule
// wins over the all-methods rule.
#ifndef SAGAWORKS_COMMON_RESILIENCE_CHAOS_H_
#define SAGAWORKS_COMMON_RESILIENCE_CHAOS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sagaworks/v1/chaos.pb.h"

namespace sagaworks::resilience {

// Fault is what to do to one call: wait, then maybe fail.
struct Fault {
  absl::Duration latency = absl::ZeroDuration();
  absl::Status failure;  // OK: run the call after the latency
};

// ValidateChaosRule checks a rule from an operator; `*code` gets the parsed
// status code.
absl::Status ValidateChaosRule(const v1::ChaosRule& rule,
                               absl::StatusCode* code);

class FaultInjector {
 public:
  absl::Status Set(const v1::ChaosRule& rule);
  // Clear removes one method's rule, or all with an empty method.
  void Clear(const std::string& method);
  v1::ChaosState State() const;

  // Decide returns the fault for a call of `method`, given a draw from
  // [0, 1); nullopt when no rule applies.
  std::optional<Fault> Decide(const std::string& method,
                              double uniform01) const;

 private:
  struct Rule {
    v1::ChaosRule proto;
    absl::StatusCode code;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Rule> rules_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_CHAOS_H_
