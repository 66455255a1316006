// SHA-256 digests (OpenSSL's EVP interface), used to identify checkpoints.
#ifndef TINYLM_UTIL_SHA256_H_
#define TINYLM_UTIL_SHA256_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace tinylm {

// The lower-case hex digest of `data` (64 characters); Internal only if
// OpenSSL itself fails.
absl::StatusOr<std::string> Sha256Hex(absl::string_view data);

// The digest of data that arrives in parts, such as the shards of one
// checkpoint: Update in order, then HexDigest once. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // The hex digest of everything passed to Update; Internal if OpenSSL
  // failed at any step.
  absl::StatusOr<std::string> HexDigest();

 private:
  EVP_MD_CTX* context_;
  bool ok_;
};

}  // namespace tinylm

#endif  // TINYLM_UTIL_SHA256_H_
