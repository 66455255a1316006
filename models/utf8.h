// UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF. Used to refuse text that cannot round-trip through the
// tokenizer and to keep display labels printable.
#ifndef TINYLM_MODELS_UTF8_H_
#define TINYLM_MODELS_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace tinylm {

// The length in bytes of the longest prefix of `text` that is valid UTF-8;
// equals text.size() when all of it is. A sequence cut off at the end of
// `text` is invalid.
size_t ValidUtf8Prefix(absl::string_view text);

inline bool IsValidUtf8(absl::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

}  // namespace tinylm

#endif  // TINYLM_MODELS_UTF8_H_
