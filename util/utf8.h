// UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF. Used to refuse text that cannot round-trip through the
// tokenizer and to keep display labels printable.
#ifndef TINYLM_UTIL_UTF8_H_
#define TINYLM_UTIL_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace tinylm {

// The length of the valid UTF-8 sequence starting at text[i] (1 to 4), or 0
// if none starts there. Requires i < text.size().
size_t Utf8SequenceLength(absl::string_view text, size_t i);

// The length in bytes of the longest prefix of `text` that is valid UTF-8;
// equals text.size() when all of it is. A sequence cut off at the end of
// `text` is invalid.
size_t ValidUtf8Prefix(absl::string_view text);

inline bool IsValidUtf8(absl::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

// The code points of valid UTF-8 `text`: the bytes that begin a sequence.
inline size_t Utf8Length(absl::string_view text) {
  size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace tinylm

#endif  // TINYLM_UTIL_UTF8_H_
