#include "common/server/authorizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/platform/services.h"
#include "common/security/tls.h"
#include "common/server/policy.h"

namespace sagaworks::server {
namespace {

thread_local const security::Principal* current_caller = nullptr;

// kSagactl is the workload name of sagactl's certificate: an operator.
constexpr char kSagactl[] = "sagactl";

}  // namespace

std::string PeerAddress(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t first = peer.find(':');
  if (colon == std::string::npos || colon == first) return peer;
  return peer.substr(0, colon);
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(
    AuthConfig config, const Clock& clock) {
  if (!config.token_public_key_pem.empty()) {
    security::TokenVerifierConfig tokens;
    tokens.public_key_pem = config.token_public_key_pem;
    tokens.issuer = config.token_issuer;
    tokens.audience = config.token_audience;
    if (absl::Status s = tokens.Validate(); !s.ok()) return s;
  }
  return std::unique_ptr<Authorizer>(new Authorizer(std::move(config), clock));
}

Authorizer::Authorizer(AuthConfig config, const Clock& clock)
    : config_(std::move(config)) {
  if (!config_.token_public_key_pem.empty()) {
    security::TokenVerifierConfig tokens;
    tokens.public_key_pem = config_.token_public_key_pem;
    tokens.issuer = config_.token_issuer;
    tokens.audience = config_.token_audience;
    tokens_ = std::make_unique<security::TokenVerifier>(tokens, clock);
  }
}

absl::StatusOr<security::Principal> Authorizer::Authenticate(
    const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kScheme = "bearer ";
    if (value.size() <= kScheme.size() ||
        !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
      return absl::UnauthenticatedError(
          "authorization metadata must be 'Bearer <token>'");
    }
    if (tokens_ == nullptr) {
      return absl::UnauthenticatedError(
          "this process accepts no bearer tokens (no --token-public-key)");
    }
    absl::StatusOr<security::Claims> claims = tokens_->Verify(
        absl::StripAsciiWhitespace(value.substr(kScheme.size())));
    if (!claims.ok()) return claims.status();
    return claims->IsOperator()
               ? security::Principal::Operator(claims->subject)
               : security::Principal::Customer(claims->subject);
  }
  if (std::optional<std::string> id = security::PeerSpiffeId(context)) {
    const std::string prefix = security::SpiffeId("");
    if (!absl::StartsWith(*id, prefix) || id->size() == prefix.size()) {
      return absl::UnauthenticatedError(
          absl::StrCat("certificate identity ", *id, " is not in trust domain ",
                       security::kTrustDomain));
    }
    std::string workload = id->substr(prefix.size());
    if (workload == kSagactl) return security::Principal::Operator(kSagactl);
    return security::Principal::Workload(std::move(workload));
  }
  if (config_.insecure) {
    return security::Principal::Unverified(PeerAddress(context.peer()));
  }
  return absl::UnauthenticatedError(
      "no credentials: send 'authorization: Bearer <token>' (sagactl token "
      "NAME makes one) or connect with a platform certificate");
}

absl::StatusOr<security::Principal> Authorizer::Authorize(
    const grpc::ServerContext& context, absl::string_view method) {
  absl::StatusOr<security::Principal> caller = Authenticate(context);
  if (const MethodPolicy* policy = FindPolicy(method);
      policy != nullptr && policy->open && !caller.ok()) {
    return security::Principal::Unverified(PeerAddress(context.peer()));
  }
  if (!caller.ok()) return caller.status();
  if (config_.insecure) return caller;
  if (absl::Status s = Check(method, *caller); !s.ok()) return s;
  return caller;
}

ScopedCaller::ScopedCaller(const security::Principal& caller)
    : previous_(current_caller) {
  current_caller = &caller;
}

ScopedCaller::~ScopedCaller() { current_caller = previous_; }

const security::Principal& Caller() {
  static const security::Principal* nobody = new security::Principal();
  return current_caller != nullptr ? *current_caller : *nobody;
}

std::string CallerKey(const grpc::ServerContext& context) {
  if (current_caller != nullptr) return current_caller->Key();
  return security::Principal::Unverified(PeerAddress(context.peer())).Key();
}

}  // namespace sagaworks::server
