// The local platform's certificates: a CA, and one certificate for each
// service and for sagactl, written as PEM files into one directory
// (`sagactl up` uses <home>/.sagaworks/tls/, `sagactl certs --dir` any).
#ifndef SAGAWORKS_TOOLS_SAGACTL_CERTS_H_
#define SAGAWORKS_TOOLS_SAGACTL_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sagaworks::sagactl {

// Workload: one certificate to write, <name>.crt and <name>.key, naming
// spiffe://sagaworks.local/<name>, 127.0.0.1 and `dns_names`.
struct Workload {
  std::string name;
  std::vector<std::string> dns_names;
};

// CertificateNames is every service of the registry (reached as localhost
// or by its binary name, as in docker-compose.yml), sagactl, and etcd and
// Patroni (`sagactl up --ha`).
std::vector<Workload> CertificateNames();

// How long the certificates written are valid.
inline constexpr absl::Duration kCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kCertificateValidity = absl::Hours(24 * 365);

// WriteCertificates makes `dir` (0700) and writes ca.crt and ca.key unless
// they exist, then <name>.crt and <name>.key for each workload that has no
// certificate, or one that expires within 30 days, and the local token
// signing key, token.key (private) and token.pub, unless they exist. Private
// keys are written 0600.
absl::Status WriteCertificates(const std::string& dir,
                               const std::vector<Workload>& workloads,
                               absl::Time now);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_CERTS_H_
