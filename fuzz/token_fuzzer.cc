// Fuzzes bearer tokens (JWT) as callers send them: verifying never crashes,
// and no token gets claims the platform's key did not sign (one token was
// signed: an operator's, "ops"). A third of the runs start from that token
// with the fuzzer's bytes spliced in.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/security/token.h"

namespace {

using namespace sagaworks;

struct Keys {
  security::SigningKey key;
  std::string real;  // a valid operator's token
};

const Keys& TheKeys() {
  static const Keys* const keys = [] {
    auto* k = new Keys;
    k->key = *security::CreateSigningKey();
    k->real = *security::MintToken(k->key.private_pem, "ops", {"operator"},
                                   absl::Now(), absl::Hours(1));
    return k;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& keys = TheKeys();
  static security::TokenVerifier* const verifier = new security::TokenVerifier(
      {keys.key.public_pem, security::kLocalIssuer, security::kAudience},
      RealClock::Default());
  std::string token(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] % 3 == 0) {
    // The real token with a stretch replaced by the rest of the input.
    const size_t at = size > 1 ? data[1] % keys.real.size() : 0;
    token = keys.real.substr(0, at) + token.substr(std::min<size_t>(2, size)) +
            keys.real.substr(std::min(keys.real.size(), at + size));
  }
  absl::StatusOr<security::Claims> claims = verifier->Verify(token);
  if (claims.ok() && (claims->subject != "ops" || claims->roles.size() != 1 ||
                      claims->roles[0] != security::kOperatorRole)) {
    abort();
  }
  return 0;
}
