// Certificates for a local platform: a CA and the certificates it issues to
// each workload (a SPIFFE URI naming it, and the host names and addresses it
// is reached at). `sagactl up`, `sagactl certs` and the tests make them; a
// deployment brings its own from its PKI.
//
// Example:
//   auto ca = CreateAuthority("sagaworks local CA", now, now + 10 years);
//   auto payment = Issue(*ca, {"payment-service", SpiffeId("payment"),
//                              {"localhost"}, {"127.0.0.1"}, now, later});
#ifndef SAGAWORKS_COMMON_SECURITY_CERTIFICATES_H_
#define SAGAWORKS_COMMON_SECURITY_CERTIFICATES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sagaworks::security {

// KeyPair: a PEM certificate and its PEM private key (EC P-256).
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// CertificateRequest: what a workload certificate says.
struct CertificateRequest {
  std::string common_name;
  std::string spiffe_id;  // URI SAN; empty for none
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Time not_before;
  absl::Time not_after;
};

// CreateAuthority makes a self-signed CA.
absl::StatusOr<KeyPair> CreateAuthority(const std::string& common_name,
                                        absl::Time not_before,
                                        absl::Time not_after);

// Issue makes a certificate signed by `ca`, good for both ends of a TLS
// connection (server and client authentication).
absl::StatusOr<KeyPair> Issue(const KeyPair& ca,
                              const CertificateRequest& request);

// NotAfter is when a PEM certificate expires.
absl::StatusOr<absl::Time> NotAfter(const std::string& cert_pem);

}  // namespace sagaworks::security

#endif  // SAGAWORKS_COMMON_SECURITY_CERTIFICATES_H_
