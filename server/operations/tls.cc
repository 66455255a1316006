#include "server/operations/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

absl::Status Bad(const char* flag, const std::string& path,
                 const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", path, ": ", why));
}

absl::StatusOr<std::string> ReadFile(const char* flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(flag, path, "cannot read the file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Refuses a passphrase-protected key instead of OpenSSL's default of
// prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

using Certificate = std::unique_ptr<X509, X509Free>;

// Every certificate of `pem`, in order.
std::vector<Certificate> Certificates(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  std::vector<Certificate> out;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(c);
  }
  ERR_clear_error();  // the end of the input reads as an error
  return out;
}

// The first certificate of `pem`, or null.
Certificate FirstCertificate(const std::string& pem) {
  std::vector<Certificate> all = Certificates(pem);
  return all.empty() ? nullptr : std::move(all.front());
}

std::unique_ptr<EVP_PKEY, KeyFree> PrivateKey(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  return std::unique_ptr<EVP_PKEY, KeyFree>(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
}

}  // namespace

absl::StatusOr<TlsPem> LoadTlsFiles(const std::string& cert_path,
                                    const std::string& key_path,
                                    const std::string& client_ca_path) {
  TlsPem out;
  if (cert_path.empty() != key_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key go together: give both or neither");
  }
  if (cert_path.empty()) {
    if (!client_ca_path.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca needs --tls_cert and --tls_key (client "
          "certificates are checked only over TLS)");
    }
    return out;
  }
  TINYLM_ASSIGN_OR_RETURN(out.cert_chain, ReadFile("tls_cert", cert_path));
  TINYLM_ASSIGN_OR_RETURN(out.private_key, ReadFile("tls_key", key_path));
  auto cert = FirstCertificate(out.cert_chain);
  if (cert == nullptr) {
    return Bad("tls_cert", cert_path, "no PEM certificate in the file");
  }
  auto key = PrivateKey(out.private_key);
  if (key == nullptr) {
    return Bad("tls_key", key_path,
               "no unencrypted PEM private key in the file");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Bad("tls_key", key_path,
               absl::StrCat("the key does not belong to the certificate in ",
                            cert_path));
  }
  if (!client_ca_path.empty()) {
    TINYLM_ASSIGN_OR_RETURN(out.client_ca,
                            ReadFile("tls_client_ca", client_ca_path));
    if (FirstCertificate(out.client_ca) == nullptr) {
      return Bad("tls_client_ca", client_ca_path,
                 "no PEM certificate in the file");
    }
  }
  return out;
}

bool ConfigureServerTls(ssl_ctx_st& ctx, const TlsPem& tls) {
  std::vector<Certificate> chain = Certificates(tls.cert_chain);
  auto key = PrivateKey(tls.private_key);
  if (chain.empty() || key == nullptr ||
      SSL_CTX_use_certificate(&ctx, chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(&ctx, key.get()) != 1) {
    return false;
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add_extra_chain_cert(&ctx, chain[i].get()) != 1) return false;
    chain[i].release();  // the context owns it now
  }
  if (!tls.client_ca.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
    for (const Certificate& ca : Certificates(tls.client_ca)) {
      X509_STORE_add_cert(store, ca.get());
    }
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }
  return SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) == 1;
}

}  // namespace tinylm
