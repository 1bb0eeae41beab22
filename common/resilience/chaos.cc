#include "common/resilience/chaos.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace sagaworks::resilience {
namespace {

// At most ten minutes: long enough to hang a caller past any deadline.
constexpr int64_t kMaxLatencyMs = 600000;

std::optional<absl::StatusCode> ParseCode(const std::string& name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  for (int c = 1; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    if (StatusCodeName(code) == upper) return code;
  }
  return std::nullopt;
}

}  // namespace

absl::Status ValidateChaosRule(const v1::ChaosRule& rule,
                               absl::StatusCode* code) {
  if (!rule.method().empty() &&
      (!absl::StartsWith(rule.method(), "/") ||
       rule.method().find('/', 1) == std::string::npos)) {
    return absl::InvalidArgumentError(
        absl::StrCat("method '", rule.method(),
                     "' is not a full method name like "
                     "/sagaworks.v1.PaymentService/Charge"));
  }
  if (!(rule.failure_rate() >= 0.0 && rule.failure_rate() <= 1.0)) {
    return absl::InvalidArgumentError("failure_rate must be between 0 and 1");
  }
  if (rule.latency_ms() < 0 || rule.latency_ms() > kMaxLatencyMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("latency_ms must be between 0 and ", kMaxLatencyMs));
  }
  const std::optional<absl::StatusCode> parsed =
      rule.code().empty() ? absl::StatusCode::kUnavailable
                          : ParseCode(rule.code());
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "code '", rule.code(), "' is not a gRPC status code name"));
  }
  *code = *parsed;
  return absl::OkStatus();
}

absl::Status FaultInjector::Set(const v1::ChaosRule& rule) {
  absl::StatusCode code;
  if (absl::Status s = ValidateChaosRule(rule, &code); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  Rule& stored = rules_[rule.method()];
  stored.proto = rule;
  stored.proto.set_code(StatusCodeName(code));
  stored.code = code;
  return absl::OkStatus();
}

void FaultInjector::Clear(const std::string& method) {
  absl::MutexLock lock(&mu_);
  if (method.empty()) {
    rules_.clear();
  } else {
    rules_.erase(method);
  }
}

v1::ChaosState FaultInjector::State() const {
  absl::MutexLock lock(&mu_);
  v1::ChaosState state;
  for (const auto& [method, rule] : rules_) *state.add_rules() = rule.proto;
  return state;
}

std::optional<Fault> FaultInjector::Decide(const std::string& method,
                                           double uniform01) const {
  absl::MutexLock lock(&mu_);
  if (rules_.empty()) return std::nullopt;
  auto it = rules_.find(method);
  if (it == rules_.end()) it = rules_.find("");
  if (it == rules_.end()) return std::nullopt;
  const Rule& rule = it->second;
  Fault fault;
  fault.latency = absl::Milliseconds(rule.proto.latency_ms());
  if (uniform01 < rule.proto.failure_rate()) {
    fault.failure =
        absl::Status(rule.code, absl::StrCat("injected fault (",
                                             rule.proto.failure_rate() * 100,
                                             "% of ", method, ")"));
  }
  return fault;
}

}  // namespace sagaworks::resilience
