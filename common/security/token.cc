#include "common/security/token.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/security/openssl.h"
#include "jwt/jwt.hpp"

namespace sagaworks::security {
namespace {

using openssl::Owned;

}  // namespace

bool Claims::IsOperator() const {
  return std::find(roles.begin(), roles.end(), kOperatorRole) != roles.end();
}

absl::Status TokenVerifierConfig::Validate() const {
  Owned<EVP_PKEY> key(PEM_read_bio_PUBKEY(
      openssl::ReadBio(public_key_pem).get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("token key: no PEM public key");
  }
  if (issuer.empty() || audience.empty()) {
    return absl::InvalidArgumentError("token issuer and audience are required");
  }
  if (cache_size == 0) {
    return absl::InvalidArgumentError("token cache size must be positive");
  }
  return absl::OkStatus();
}

TokenVerifier::TokenVerifier(TokenVerifierConfig config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

namespace {

// CheckCompactForm accepts three base64url segments joined by dots, of at
// most kMaxTokenBytes: the JWT library's decoder shifts negative values
// (undefined behaviour) on a character outside the alphabet, so nothing
// else reaches it.
absl::Status CheckCompactForm(absl::string_view token) {
  constexpr size_t kMaxTokenBytes = 8192;
  const absl::Status bad = absl::UnauthenticatedError(
      "token refused: not a JWT (three base64url parts joined by dots)");
  if (token.empty() || token.size() > kMaxTokenBytes) return bad;
  int dots = 0;
  for (char c : token) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(c) && c != '-' && c != '_') {
      return bad;
    }
  }
  return dots == 2 ? absl::OkStatus() : bad;
}

}  // namespace

absl::StatusOr<Claims> TokenVerifier::Verify(absl::string_view token) {
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(token);
    if (it != cache_.end()) {
      if (it->second.expires > now) return it->second;
      cache_.erase(it);
      return absl::UnauthenticatedError("token expired");
    }
  }
  if (absl::Status s = CheckCompactForm(token); !s.ok()) return s;
  using namespace jwt::params;
  std::error_code error;
  jwt::jwt_object decoded;
  try {
    decoded = jwt::decode(
        jwt::string_view(token.data(), token.size()), algorithms({"ES256"}),
        error, secret(config_.public_key_pem), issuer(config_.issuer),
        aud(config_.audience), verify(true));
  } catch (const std::exception& e) {
    return absl::UnauthenticatedError(
        absl::StrCat("token refused: ", e.what()));
  }
  if (error) {
    return absl::UnauthenticatedError(
        absl::StrCat("token refused: ", error.message()));
  }
  const auto& payload = decoded.payload();
  if (!payload.has_claim("exp")) {
    return absl::UnauthenticatedError("token refused: no exp claim");
  }
  Claims claims;
  const nlohmann::json json = payload.create_json_obj();
  if (!json.contains("sub") || !json["sub"].is_string() ||
      json["sub"].get<std::string>().empty()) {
    return absl::UnauthenticatedError("token refused: no sub claim");
  }
  claims.subject = json["sub"].get<std::string>();
  if (!json["exp"].is_number_integer()) {
    return absl::UnauthenticatedError("token refused: exp is not a number");
  }
  claims.expires = absl::FromUnixSeconds(json["exp"].get<int64_t>());
  if (claims.expires <= now) {
    return absl::UnauthenticatedError("token expired");
  }
  if (json.contains("roles") && json["roles"].is_array()) {
    for (const auto& role : json["roles"]) {
      if (role.is_string()) claims.roles.push_back(role.get<std::string>());
    }
  }
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= config_.cache_size) cache_.clear();
  cache_.emplace(std::string(token), claims);
  return claims;
}

absl::StatusOr<SigningKey> CreateSigningKey() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError("cannot make an EC key");
  return SigningKey{openssl::PrivateKeyPem(key.get()),
                    openssl::PublicKeyPem(key.get())};
}

absl::StatusOr<std::string> MintToken(const std::string& private_key_pem,
                                      const std::string& subject,
                                      const std::vector<std::string>& roles,
                                      absl::Time now, absl::Duration ttl,
                                      const std::string& issuer,
                                      const std::string& audience) {
  if (subject.empty()) return absl::InvalidArgumentError("subject is empty");
  using namespace jwt::params;
  try {
    jwt::jwt_object token{algorithm("ES256"), secret(private_key_pem)};
    token.add_claim("iss", issuer)
        .add_claim("aud", audience)
        .add_claim("sub", subject)
        .add_claim("iat", absl::ToUnixSeconds(now))
        .add_claim("exp", absl::ToUnixSeconds(now + ttl));
    if (!roles.empty()) token.payload().add_claim("roles", roles);
    return token.signature();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot sign a token: ", e.what()));
  }
}

}  // namespace sagaworks::security
