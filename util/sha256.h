// SHA-256 digests (OpenSSL's EVP interface), used to identify checkpoints.
#ifndef TINYLM_UTIL_SHA256_H_
#define TINYLM_UTIL_SHA256_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// The lower-case hex digest of `data` (64 characters); Internal only if
// OpenSSL itself fails.
absl::StatusOr<std::string> Sha256Hex(absl::string_view data);

}  // namespace tinylm

#endif  // TINYLM_UTIL_SHA256_H_
