#include "tools/sagactl/certs.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/platform/services.h"
#include "common/security/certificates.h"
#include "common/security/tls.h"
#include "common/security/token.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::sagactl {
namespace {

// Renewed this long before they expire.
constexpr absl::Duration kRenewBefore = absl::Hours(24 * 30);

}  // namespace

std::vector<Workload> CertificateNames() {
  std::vector<Workload> out;
  for (const platform::ServiceInfo& s : platform::Services()) {
    out.push_back({s.name, {"localhost", s.binary}});
  }
  out.push_back({kSagactlIdentity, {"localhost"}});
  // `sagactl up --ha`: etcd serves Patroni over mutual TLS.
  out.push_back({"etcd", {"localhost"}});
  out.push_back({"patroni", {"localhost"}});
  return out;
}

absl::Status WriteCertificates(const std::string& dir,
                               const std::vector<Workload>& workloads,
                               absl::Time now) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot make ", dir, ": ", error.message()));
  }
  const std::string ca_cert = dir + "/ca.crt", ca_key = dir + "/ca.key";
  security::KeyPair ca;
  std::optional<std::string> cert = ReadFile(ca_cert), key = ReadFile(ca_key);
  if (cert.has_value() && key.has_value()) {
    ca = {*cert, *key};
  } else {
    absl::StatusOr<security::KeyPair> made = security::CreateAuthority(
        "sagaworks local CA", now - absl::Hours(1), now + kCaValidity);
    if (!made.ok()) return made.status();
    ca = *std::move(made);
    if (absl::Status s = WriteFileAtomically(ca_key, ca.key_pem, 0600); !s.ok())
      return s;
    if (absl::Status s = WriteFileAtomically(ca_cert, ca.cert_pem, 0644);
        !s.ok())
      return s;
  }
  for (const Workload& w : workloads) {
    const std::string crt = absl::StrCat(dir, "/", w.name, ".crt");
    if (std::optional<std::string> existing = ReadFile(crt)) {
      absl::StatusOr<absl::Time> expires = security::NotAfter(*existing);
      if (expires.ok() && *expires - now > kRenewBefore) continue;
    }
    absl::StatusOr<security::KeyPair> pair =
        security::Issue(ca, {w.name,
                             security::SpiffeId(w.name),
                             w.dns_names,
                             {"127.0.0.1"},
                             now - absl::Hours(1),
                             now + kCertificateValidity});
    if (!pair.ok()) return pair.status();
    // The key first: a watcher that sees the new certificate finds its key.
    if (absl::Status s = WriteFileAtomically(
            absl::StrCat(dir, "/", w.name, ".key"), pair->key_pem, 0600);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteFileAtomically(crt, pair->cert_pem, 0644);
        !s.ok())
      return s;
  }
  const std::string token_key = dir + "/token.key";
  if (!ReadFile(token_key).has_value() ||
      !ReadFile(dir + "/token.pub").has_value()) {
    absl::StatusOr<security::SigningKey> key = security::CreateSigningKey();
    if (!key.ok()) return key.status();
    if (absl::Status s =
            WriteFileAtomically(dir + "/token.pub", key->public_pem, 0644);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteFileAtomically(token_key, key->private_pem, 0600);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace sagaworks::sagactl
