// Bearer-token authentication of TinyLM calls (--auth_token_file). The
// token travels as the standard "authorization: Bearer <token>" metadata
// and is compared in constant time (as SHA-256 digests, so that neither
// the content nor the length of the token leaks through timing).
#ifndef TINYLM_SERVER_OPERATIONS_AUTH_H_
#define TINYLM_SERVER_OPERATIONS_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// The token in `path`: the file's content without surrounding whitespace
// (a trailing newline is common). INVALID_ARGUMENT naming the file when it
// cannot be read, is empty, or holds more than one word.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The first value of metadata `key` the client sent, if any.
std::optional<absl::string_view> ClientMetadata(
    const grpc::ServerContextBase& context, absl::string_view key);

// Immutable, so thread-safe.
class BearerAuth {
 public:
  explicit BearerAuth(absl::string_view token);

  // OK when `authorization` (the call's metadata value; nullopt when the
  // call has none) is "Bearer <the token>"; UNAUTHENTICATED saying what is
  // wrong otherwise.
  absl::Status Check(std::optional<absl::string_view> authorization) const;

 private:
  std::array<unsigned char, 32> digest_;  // SHA-256 of the token
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_AUTH_H_
