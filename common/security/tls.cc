#include "common/security/tls.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/files.h"
#include "common/security/openssl.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace sagaworks::security {
namespace {

using openssl::Owned;
using openssl::ReadBio;

absl::StatusOr<std::string> ReadFlagFile(const std::string& path,
                                         const std::string& flag) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, " '", path, "' cannot be read"));
  }
  return *std::move(text);
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(
    const TlsConfig& config) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.key_file, config.cert_file, config.ca_file,
      config.refresh_seconds);
}

absl::Mutex client_mu(absl::kConstInit);
std::shared_ptr<grpc::ChannelCredentials>& ClientCredentials() {
  static auto* const credentials =
      new std::shared_ptr<grpc::ChannelCredentials>();
  return *credentials;
}

}  // namespace

std::string SpiffeId(const std::string& workload) {
  return absl::StrCat("spiffe://", kTrustDomain, "/", workload);
}

absl::Status TlsConfig::Validate() const {
  if (insecure) return absl::OkStatus();
  if (cert_file.empty() || key_file.empty() || ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert, --tls-key and --tls-ca are required (or --insecure for "
        "plaintext)");
  }
  absl::StatusOr<std::string> cert_pem = ReadFlagFile(cert_file, "--tls-cert");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFlagFile(key_file, "--tls-key");
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> ca_pem = ReadFlagFile(ca_file, "--tls-ca");
  if (!ca_pem.ok()) return ca_pem.status();

  Owned<X509> cert(
      PEM_read_bio_X509(ReadBio(*cert_pem).get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert '", cert_file, "' holds no PEM certificate"));
  }
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(ReadBio(*key_pem).get(), nullptr,
                                              nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key '", key_file, "' holds no PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key '", key_file,
                     "' is not the key of --tls-cert '", cert_file, "'"));
  }
  Owned<X509_STORE> store(X509_STORE_new());
  auto ca_bio = ReadBio(*ca_pem);
  int roots = 0;
  while (X509* root =
             PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), root);
    X509_free(root);
    ++roots;
  }
  if (roots == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca '", ca_file, "' holds no PEM certificate"));
  }
  Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-cert '", cert_file, "' is not valid under --tls-ca '", ca_file,
        "': ",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const TlsConfig& config) {
  if (config.insecure) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(Provider(config));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsConfig& config) {
  if (config.insecure) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(config));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

void SetClientTls(const TlsConfig& config) {
  absl::MutexLock lock(&client_mu);
  ClientCredentials() = ChannelCredentials(config);
}

std::shared_ptr<grpc::ChannelCredentials> ClientChannelCredentials() {
  absl::MutexLock lock(&client_mu);
  if (ClientCredentials() == nullptr) {
    return grpc::InsecureChannelCredentials();
  }
  return ClientCredentials();
}

std::optional<std::string> PeerSpiffeId(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return std::nullopt;
  std::vector<grpc::string_ref> ids =
      auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() != 1) return std::nullopt;
  return std::string(ids[0].data(), ids[0].size());
}

}  // namespace sagaworks::security
