#include "server/engine/text_assembler.h"

#include <algorithm>
#include <utility>

namespace tinylm {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

enum class Scan { kValid, kInvalid, kTruncated };

// Classifies the UTF-8 sequence starting at s[i]; *len is the number of
// bytes it spans (for kInvalid: the bytes one U+FFFD replaces).
Scan ScanOne(absl::string_view s, size_t i, size_t* len) {
  const unsigned char c = s[i];
  *len = 1;
  if (c < 0x80) return Scan::kValid;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return Scan::kInvalid;
  }
  for (size_t k = 1; k < n; ++k) {
    *len = k;
    if (i + k >= s.size()) return Scan::kTruncated;
    const unsigned char d = s[i + k];
    if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) {
      return Scan::kInvalid;
    }
  }
  *len = n;
  return Scan::kValid;
}

}  // namespace

size_t CompleteUtf8Prefix(absl::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = 0;
    if (ScanOne(bytes, i, &len) == Scan::kTruncated) return i;
    i += len;
  }
  return i;
}

std::string SanitizeUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = 0;
    if (ScanOne(bytes, i, &len) == Scan::kValid) {
      out.append(bytes.data() + i, len);
    } else {
      out.append(kReplacement);
    }
    i += len;
  }
  return out;
}

TextAssembler::TextAssembler(std::vector<std::string> stops)
    : stops_(std::move(stops)) {}

TextAssembler::Result TextAssembler::Append(absl::string_view bytes) {
  pending_.append(bytes.data(), bytes.size());
  Result result;
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at < first) {
      first = at;
      result.stop = stop;
    }
  }
  if (first != std::string::npos) {
    result.released = Release(first);
    result.stopped = true;
    pending_.clear();
    return result;
  }
  const size_t undecided = pending_.size() - StopPrefixLength();
  result.released = Release(
      CompleteUtf8Prefix(absl::string_view(pending_).substr(0, undecided)));
  return result;
}

std::string TextAssembler::Flush() {
  return Release(pending_.size());
}

size_t TextAssembler::StopPrefixLength() const {
  size_t longest = 0;
  const absl::string_view pending(pending_);
  for (const std::string& stop : stops_) {
    const size_t max_len = std::min(stop.size() - 1, pending.size());
    for (size_t len = max_len; len > longest; --len) {
      if (pending.substr(pending.size() - len) ==
          absl::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

std::string TextAssembler::Release(size_t n) {
  // Except at the end, n ends on a character boundary, so sanitizing only
  // replaces bytes that can never become valid.
  std::string out = SanitizeUtf8(absl::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  text_ += out;
  return out;
}

}  // namespace tinylm
