#include "common/security/certificates.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/security/openssl.h"

namespace sagaworks::security {
namespace {

using openssl::Owned;

absl::Status OpensslError(const std::string& what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError(
        absl::StrCat("extension ", OBJ_nid2sn(nid), " ", value));
  }
  return absl::OkStatus();
}

// NewCertificate fills what every certificate has: a fresh EC key, version
// 3, a random serial, the validity and the subject.
absl::Status Fill(X509* cert, EVP_PKEY* key, const std::string& common_name,
                  absl::Time not_before, absl::Time not_after) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError("certificate expires before it starts");
  }
  X509_set_version(cert, 2);
  Owned<BIGNUM> serial(BN_new());
  if (BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) ==
          nullptr) {
    return OpensslError("serial number");
  }
  ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after));
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_pubkey(cert, key);
  return absl::OkStatus();
}

absl::StatusOr<Owned<X509>> ParseCert(const std::string& pem) {
  Owned<X509> cert(PEM_read_bio_X509(openssl::ReadBio(pem).get(), nullptr,
                                     nullptr, nullptr));
  if (cert == nullptr) return OpensslError("PEM certificate");
  return cert;
}

}  // namespace

absl::StatusOr<KeyPair> CreateAuthority(const std::string& common_name,
                                        absl::Time not_before,
                                        absl::Time not_after) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpensslError("EC key");
  Owned<X509> cert(X509_new());
  if (absl::Status s =
          Fill(cert.get(), key.get(), common_name, not_before, not_after);
      !s.ok()) {
    return s;
  }
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  for (const auto& [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
        std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
        std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(cert.get(), cert.get(), nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpensslError("signing the CA");
  }
  return KeyPair{openssl::CertificatePem(cert.get()),
                 openssl::PrivateKeyPem(key.get())};
}

absl::StatusOr<KeyPair> Issue(const KeyPair& ca,
                              const CertificateRequest& request) {
  absl::StatusOr<Owned<X509>> ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  Owned<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(
      openssl::ReadBio(ca.key_pem).get(), nullptr, nullptr, nullptr));
  if (ca_key == nullptr) return OpensslError("CA private key");

  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpensslError("EC key");
  Owned<X509> cert(X509_new());
  if (absl::Status s = Fill(cert.get(), key.get(), request.common_name,
                            request.not_before, request.not_after);
      !s.ok()) {
    return s;
  }
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert->get()));
  std::vector<std::string> names;
  if (!request.spiffe_id.empty()) {
    names.push_back(absl::StrCat("URI:", request.spiffe_id));
  }
  for (const std::string& dns : request.dns_names) {
    names.push_back(absl::StrCat("DNS:", dns));
  }
  for (const std::string& ip : request.ip_addresses) {
    names.push_back(absl::StrCat("IP:", ip));
  }
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid"}};
  if (!names.empty()) {
    extensions.emplace_back(NID_subject_alt_name, absl::StrJoin(names, ","));
  }
  for (const auto& [nid, value] : extensions) {
    if (absl::Status s = AddExtension(cert.get(), ca_cert->get(), nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpensslError("signing the certificate");
  }
  return KeyPair{openssl::CertificatePem(cert.get()),
                 openssl::PrivateKeyPem(key.get())};
}

absl::StatusOr<absl::Time> NotAfter(const std::string& cert_pem) {
  absl::StatusOr<Owned<X509>> cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &tm) != 1) {
    return OpensslError("notAfter");
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

}  // namespace sagaworks::security
