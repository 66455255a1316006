#include "train/token_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "train/quote_path.h"

namespace tinylm {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

absl::Status IoError(const std::string& path, const char* what) {
  const std::string message =
      absl::StrCat(QuotePath(path), ": ", what, ": ", std::strerror(errno));
  return errno == ENOENT ? absl::NotFoundError(message)
                         : absl::InternalError(message);
}

}  // namespace

absl::Status WriteTokenFile(const std::string& path,
                            const std::vector<uint16_t>& tokens) {
  const std::string tmp = path + ".tmp";
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    if (!f) return IoError(tmp, "cannot create");
    // The format is little-endian; so is every machine tinylm builds for.
    if (std::fwrite(tokens.data(), sizeof(uint16_t), tokens.size(), f.get()) !=
            tokens.size() ||
        std::fflush(f.get()) != 0) {
      return IoError(tmp, "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError(path, "cannot rename into place");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint16_t>> ReadTokenFile(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return IoError(path, "cannot open");
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return IoError(path, "seek");
  const long size = std::ftell(f.get());
  if (size < 0) return IoError(path, "tell");
  if (size % 2 != 0) {
    return absl::DataLossError(absl::StrCat(
        QuotePath(path), ": size ", size, " is odd; not a uint16 token file"));
  }
  std::rewind(f.get());
  std::vector<uint16_t> tokens(size / 2);
  if (std::fread(tokens.data(), sizeof(uint16_t), tokens.size(), f.get()) !=
      tokens.size()) {
    return IoError(path, "short read");
  }
  return tokens;
}

}  // namespace tinylm
