#include "util/sha256.h"

#include <openssl/evp.h>

namespace tinylm {

Sha256::Sha256()
    : context_(EVP_MD_CTX_new()),
      ok_(context_ != nullptr &&
          EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) == 1) {}

Sha256::~Sha256() { EVP_MD_CTX_free(context_); }

void Sha256::Update(absl::string_view data) {
  ok_ = ok_ && EVP_DigestUpdate(context_, data.data(), data.size()) == 1;
}

absl::StatusOr<std::string> Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ok_ = ok_ && EVP_DigestFinal_ex(context_, digest, &length) == 1;
  if (!ok_) {
    return absl::InternalError("OpenSSL could not compute a SHA-256 digest");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

absl::StatusOr<std::string> Sha256Hex(absl::string_view data) {
  Sha256 digest;
  digest.Update(data);
  return digest.HexDigest();
}

}  // namespace tinylm
