// The authorization policy: for every RPC the platform serves, who may call
// it. Deny by default: a method missing from the table answers
// PERMISSION_DENIED to everyone (a test walks the descriptor pool so none is
// forgotten).
//
// Who may call is one or more of:
//   - platform processes, by service (the orchestrator for Charge);
//   - customers: any (GetStock), or only for their own data (GetOrder), which
//     the handler checks with Principal::MaySee;
//   - operators (a token with the operator role, or sagactl);
//   - anyone, without credentials (health checks).
#ifndef SAGAWORKS_COMMON_SERVER_POLICY_H_
#define SAGAWORKS_COMMON_SERVER_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/platform/services.h"
#include "common/security/principal.h"

namespace sagaworks::server {

enum class Customers {
  kNone,
  kAny,  // every customer, whatever the request names
  kOwn,  // a customer, for their own data only (checked by the handler)
};

struct MethodPolicy {
  std::string method;  // "/sagaworks.v1.PaymentService/Charge"
  std::vector<platform::Service> workloads;
  Customers customers = Customers::kNone;
  bool operators = false;
  // No credentials needed (health checks and reflection).
  bool open = false;
};

// Policies is the whole table, one row per method.
const std::vector<MethodPolicy>& Policies();

// FindPolicy is `method`'s row, or null (deny).
const MethodPolicy* FindPolicy(absl::string_view method);

// Check says whether `caller` may call `method`: OK, or PERMISSION_DENIED
// naming who may.
absl::Status Check(absl::string_view method, const security::Principal& caller);

// DescribeAllowed is who a row allows, in words ("the orchestrator;
// operators").
std::string DescribeAllowed(const MethodPolicy& policy);

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_POLICY_H_
