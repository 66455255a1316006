// Channels to tinylm-server as its clients (the CLI, the benchmark) open
// them: plaintext, TLS (the server verified against --tls_ca, or the
// system's roots), mutual TLS (a client certificate), and a bearer token
// sent with every call. No cairo, no Torch: the benchmark links it too.
#ifndef TINYLM_CLIENT_RPC_CHANNEL_H_
#define TINYLM_CLIENT_RPC_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tinylm {

// File paths as the flags give them; all empty: plaintext, no token.
struct ChannelSecurity {
  bool tls = false;             // TLS even without tls_ca (system roots)
  std::string tls_ca;           // PEM CA certificates that verify the server
  std::string tls_cert;         // PEM client certificate chain (mTLS) ...
  std::string tls_key;          // ... and its private key
  std::string tls_server_name;  // name to verify instead of the target's
  std::string auth_token_file;  // token sent as "authorization: Bearer"

  bool uses_tls() const {
    return tls || !tls_ca.empty() || !tls_cert.empty() ||
           !tls_server_name.empty();
  }
};

// A channel to `target` with `arguments`, secured as `security` says.
// INVALID_ARGUMENT naming the flag for a file that cannot be read, a
// certificate without its key (or the reverse), or an empty token.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const ChannelSecurity& security,
    grpc::ChannelArguments arguments);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_RPC_CHANNEL_H_
