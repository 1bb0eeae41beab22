// Principal: who a call comes from, once authenticated. A platform process
// (its certificate's SPIFFE id), a customer or an operator (a bearer token's
// subject and roles), or, only with --insecure, whoever reached the port.
#ifndef SAGAWORKS_COMMON_SECURITY_PRINCIPAL_H_
#define SAGAWORKS_COMMON_SECURITY_PRINCIPAL_H_

#include <string>

namespace sagaworks::security {

struct Principal {
  enum class Kind {
    kWorkload,  // a platform process; name is its service name
    kCustomer,  // name is the customer id (the token's `sub`)
    kOperator,  // a token with the operator role, or sagactl's certificate
    // The trust boundary is off (--insecure): name is the caller's address.
    kUnverified,
  };

  Kind kind = Kind::kUnverified;
  std::string name;

  static Principal Workload(std::string service) {
    return {Kind::kWorkload, std::move(service)};
  }
  static Principal Customer(std::string id) {
    return {Kind::kCustomer, std::move(id)};
  }
  static Principal Operator(std::string name) {
    return {Kind::kOperator, std::move(name)};
  }
  static Principal Unverified(std::string address) {
    return {Kind::kUnverified, std::move(address)};
  }

  // Key is "<kind>:<name>" ("customer:alice"): the scope of idempotency keys
  // and the rate-limit bucket of this principal.
  std::string Key() const;

  // MaySee tells whether this principal may see `customer`'s data: a
  // customer their own only; the policy already limited who else got here.
  bool MaySee(const std::string& customer) const {
    return kind != Kind::kCustomer || name == customer;
  }
};

// KindName is "workload", "customer", "operator" or "unverified".
const char* KindName(Principal::Kind kind);

}  // namespace sagaworks::security

#endif  // SAGAWORKS_COMMON_SECURITY_PRINCIPAL_H_
