// Authorizer: who is calling, and may they. Every handler reaches it through
// the server guard before it runs:
//   1. authentication: a bearer token (`authorization: Bearer <JWT>`) names a
//      customer or an operator; else the certificate the caller presented
//      names a platform process by its SPIFFE id (sagactl's counts as an
//      operator); else UNAUTHENTICATED. With --insecure nobody is asked:
//      the caller is its address, and every method is open.
//   2. authorization: the policy table (policy.h) for the method, deny by
//      default: PERMISSION_DENIED.
// While a handler runs, Caller() is the principal, on the handler's thread;
// it scopes idempotency keys and rate limits and is a trace attribute.
#ifndef SAGAWORKS_COMMON_SERVER_AUTHORIZER_H_
#define SAGAWORKS_COMMON_SERVER_AUTHORIZER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/security/principal.h"
#include "common/security/token.h"
#include "grpcpp/server_context.h"

namespace sagaworks::server {

struct AuthConfig {
  // The trust boundary is off: no credentials asked for, every method open.
  bool insecure = false;
  // PEM public key that customers' and operators' tokens are signed with;
  // empty: tokens are refused.
  std::string token_public_key_pem;
  std::string token_issuer = security::kLocalIssuer;
  std::string token_audience = security::kAudience;
};

class Authorizer {
 public:
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(AuthConfig config,
                                                            const Clock& clock);

  // Authenticate names the caller, or says why it cannot (UNAUTHENTICATED).
  absl::StatusOr<security::Principal> Authenticate(
      const grpc::ServerContext& context);

  // Authorize authenticates the caller and checks that it may call `method`
  // ("/sagaworks.v1.PaymentService/Charge").
  absl::StatusOr<security::Principal> Authorize(
      const grpc::ServerContext& context, absl::string_view method);

  bool insecure() const { return config_.insecure; }

 private:
  Authorizer(AuthConfig config, const Clock& clock);

  const AuthConfig config_;
  std::unique_ptr<security::TokenVerifier> tokens_;
};

// ScopedCaller makes `caller` what Caller() returns on this thread until it
// is destroyed.
class ScopedCaller {
 public:
  explicit ScopedCaller(const security::Principal& caller);
  ~ScopedCaller();
  ScopedCaller(const ScopedCaller&) = delete;
  ScopedCaller& operator=(const ScopedCaller&) = delete;

 private:
  const security::Principal* previous_;
};

// Caller is the authenticated principal of the call this thread is handling.
// Outside a guarded handler it is an unverified principal named by nothing.
const security::Principal& Caller();

// CallerKey scopes what belongs to a caller (idempotency keys, rate limits,
// open watches): the principal's Key(), or for a call outside a guarded
// handler its address.
std::string CallerKey(const grpc::ServerContext& context);

// PeerAddress is the caller's address without its port
// ("ipv4:127.0.0.1:53412" -> "ipv4:127.0.0.1").
std::string PeerAddress(const std::string& peer);

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_AUTHORIZER_H_
