// Small helpers for the OpenSSL C API, shared by the security code: owning
// pointers that free each object with its own function, and PEM in and out.
#ifndef SAGAWORKS_COMMON_SECURITY_OPENSSL_H_
#define SAGAWORKS_COMMON_SECURITY_OPENSSL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

namespace sagaworks::security::openssl {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
// Owned holds an OpenSSL object and frees it.
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// ReadBio reads from `pem`, which must outlive it.
inline Owned<BIO> ReadBio(const std::string& pem) {
  return Owned<BIO>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Pem writes `write(bio)` into a string.
template <typename Write>
std::string Pem(Write write) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  write(bio.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

inline std::string CertificatePem(X509* cert) {
  return Pem([cert](BIO* b) { PEM_write_bio_X509(b, cert); });
}
inline std::string PrivateKeyPem(EVP_PKEY* key) {
  return Pem([key](BIO* b) {
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}
inline std::string PublicKeyPem(EVP_PKEY* key) {
  return Pem([key](BIO* b) { PEM_write_bio_PUBKEY(b, key); });
}

}  // namespace sagaworks::security::openssl

#endif  // SAGAWORKS_COMMON_SECURITY_OPENSSL_H_
