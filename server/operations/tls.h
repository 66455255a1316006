// TLS material of the server (--tls_cert, --tls_key, --tls_client_ca),
// read and checked at start-up so that a wrong file is reported by name
// rather than as a listening port that cannot be opened.
#ifndef TINYLM_SERVER_OPERATIONS_TLS_H_
#define TINYLM_SERVER_OPERATIONS_TLS_H_

#include <string>

#include "absl/status/statusor.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace tinylm {

// PEM text. Empty cert_chain: no TLS (plaintext).
struct TlsPem {
  std::string cert_chain;   // server certificate, then intermediates
  std::string private_key;  // of the first certificate
  std::string client_ca;    // non-empty: clients must present a certificate
                            // that these CA certificates verify (mTLS)
};

// Reads and checks the files: both of cert and key or neither, each a
// parseable PEM certificate or key, the key matching the certificate;
// client_ca only together with a certificate. INVALID_ARGUMENT naming the
// flag and the file otherwise.
absl::StatusOr<TlsPem> LoadTlsFiles(const std::string& cert_path,
                                    const std::string& key_path,
                                    const std::string& client_ca_path);

// Sets up an OpenSSL server context (SSL_CTX) with `tls` as LoadTlsFiles
// checked it: the certificate chain and key, and with client CAs, required
// and verified client certificates; TLS 1.2 or later. For servers other than
// gRPC's (the HTTP face). False if OpenSSL refuses any of it.
bool ConfigureServerTls(ssl_ctx_st& ctx, const TlsPem& tls);

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_TLS_H_
