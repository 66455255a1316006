// Quoting user-supplied values in error messages: a short, printable,
// valid-UTF-8 prefix, so that a megabyte of model name or a control
// character cannot break a status message, a log line or a client's
// metadata limit.
#ifndef TINYLM_UTIL_QUOTE_H_
#define TINYLM_UTIL_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace tinylm {

// Values up to this many bytes are quoted whole.
inline constexpr size_t kQuoteMaxBytes = 64;

// `value` in double quotes. Control characters, quotes, backslashes and
// bytes that are not valid UTF-8 are escaped (\n, \", \\, \xNN); a value
// longer than `max_bytes` is cut at a character boundary and marked:
//   "abc..." (1048576 bytes)
std::string Quote(absl::string_view value, size_t max_bytes = kQuoteMaxBytes);

}  // namespace tinylm

#endif  // TINYLM_UTIL_QUOTE_H_
