// Bearer tokens for customers and operators: JWTs signed with ES256,
// verified against a public key from a file (the local one `sagactl up`
// makes, or an identity provider's). `sub` names the customer; a `roles`
// claim holding "operator" makes an operator. Verified tokens are cached
// until they expire, so checking a token a caller repeats is a map look-up.
//
// Example:
//   TokenVerifier verifier({public_key_pem, kLocalIssuer, kAudience},
//                          RealClock::Default());
//   absl::StatusOr<Claims> who = verifier.Verify(bearer_token);
#ifndef SAGAWORKS_COMMON_SECURITY_TOKEN_H_
#define SAGAWORKS_COMMON_SECURITY_TOKEN_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks::security {

// The issuer and audience of tokens minted for a local platform.
inline constexpr char kLocalIssuer[] = "sagaworks-local";
inline constexpr char kAudience[] = "sagaworks";
// kOperatorRole in a token's `roles` makes its holder an operator.
inline constexpr char kOperatorRole[] = "operator";

// Claims: what a verified token says.
struct Claims {
  std::string subject;
  std::vector<std::string> roles;
  absl::Time expires;

  bool IsOperator() const;
};

struct TokenVerifierConfig {
  std::string public_key_pem;  // ES256 (P-256) public key, PEM
  std::string issuer = kLocalIssuer;
  std::string audience = kAudience;
  // Verified tokens remembered at most; the cache starts over when full.
  size_t cache_size = 10000;

  absl::Status Validate() const;
};

class TokenVerifier {
 public:
  TokenVerifier(TokenVerifierConfig config, const Clock& clock);

  // Verify checks the signature, `exp`, `iss` and `aud`, and that `sub` is
  // set; UNAUTHENTICATED with the reason otherwise.
  absl::StatusOr<Claims> Verify(absl::string_view token);

 private:
  const TokenVerifierConfig config_;
  const Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Claims, std::less<>> cache_ ABSL_GUARDED_BY(mu_);
};

// SigningKey: an ES256 key pair, PEM.
struct SigningKey {
  std::string private_pem;
  std::string public_pem;
};
absl::StatusOr<SigningKey> CreateSigningKey();

// MintToken signs a token for `subject` with `roles`, valid from `now` for
// `ttl`.
absl::StatusOr<std::string> MintToken(const std::string& private_key_pem,
                                      const std::string& subject,
                                      const std::vector<std::string>& roles,
                                      absl::Time now, absl::Duration ttl,
                                      const std::string& issuer = kLocalIssuer,
                                      const std::string& audience = kAudience);

}  // namespace sagaworks::security

#endif  // SAGAWORKS_COMMON_SECURITY_TOKEN_H_
