// Transport security between platform processes: mutual TLS with
// certificates from the platform CA, each naming its workload with a SPIFFE
// URI (spiffe://sagaworks.local/<service>). Certificate files are watched and
// re-read when they change, so rotation needs no restart. Plaintext exists
// only when a process is started with --insecure.
//
// Example:
//   TlsConfig tls{"payment.crt", "payment.key", "ca.crt"};
//   if (absl::Status s = tls.Validate(); !s.ok()) ...
//   builder.AddListeningPort(address, ServerCredentials(tls), &port);
#ifndef SAGAWORKS_COMMON_SECURITY_TLS_H_
#define SAGAWORKS_COMMON_SECURITY_TLS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"

namespace sagaworks::security {

// kTrustDomain is the SPIFFE trust domain of the platform's identities.
inline constexpr char kTrustDomain[] = "sagaworks.local";

// SpiffeId is "spiffe://sagaworks.local/<workload>".
std::string SpiffeId(const std::string& workload);

// TlsConfig: the files a process presents and trusts, or plaintext.
struct TlsConfig {
  std::string cert_file;  // PEM certificate chain, leaf first
  std::string key_file;   // PEM private key of the leaf
  std::string ca_file;    // PEM roots that peers' certificates must chain to
  // Plaintext, no certificates: only when asked for explicitly.
  bool insecure = false;
  // How often the files are checked for changes.
  unsigned int refresh_seconds = 10;

  // Validate checks that either `insecure` is set, or all three files exist
  // and hold a certificate that matches its key and chains to the CA.
  absl::Status Validate() const;
};

// ServerCredentials serves TLS with `config`'s certificate. A client
// certificate is asked for and, when presented, must chain to the CA;
// clients without one (a customer's grpcurl) are left to authentication by
// token.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const TlsConfig& config);

// ChannelCredentials dials with TLS, checking the server's certificate
// against the CA and the address's host, and presents `config`'s
// certificate.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsConfig& config);

// SetClientTls sets what Dial() uses in this process. Processes set it once
// at start, before dialling.
void SetClientTls(const TlsConfig& config);
// ClientChannelCredentials is what SetClientTls set; plaintext before that.
std::shared_ptr<grpc::ChannelCredentials> ClientChannelCredentials();

// PeerSpiffeId is the SPIFFE id of the certificate the caller presented, or
// nullopt (no certificate, or plaintext).
std::optional<std::string> PeerSpiffeId(const grpc::ServerContext& context);

}  // namespace sagaworks::security

#endif  // SAGAWORKS_COMMON_SECURITY_TLS_H_
