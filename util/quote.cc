#include "util/quote.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/utf8.h"

namespace tinylm {

std::string Quote(absl::string_view value, size_t max_bytes) {
  std::string out = "\"";
  size_t i = 0;
  while (i < value.size()) {
    const size_t length = Utf8SequenceLength(value, i);
    const size_t taken = length == 0 ? 1 : length;
    if (i + taken > max_bytes) break;
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (length == 0 || c < 0x20 || c == 0x7f) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: absl::StrAppendFormat(&out, "\\x%02x", c);
      }
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out.append(value.data() + i, taken);
    }
    i += taken;
  }
  out += '"';
  if (i < value.size()) {
    // The ellipsis goes inside the quotes: it is not part of the value.
    out.insert(out.size() - 1, "...");
    absl::StrAppend(&out, " (", value.size(), " bytes)");
  }
  return out;
}

}  // namespace tinylm
