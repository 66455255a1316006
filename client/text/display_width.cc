#include "client/text/display_width.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_format.h"

namespace tinylm {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

struct Range {
  char32_t first, last;
};

// Wide (W) and fullwidth (F) blocks of UAX #11, merged where adjacent.
constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},
    {0x23E9, 0x23EC},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},
    {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},
    {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF}, {0x1B000, 0x1B2FF},
    {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD},
    {0x30000, 0x3FFFD},
};

// Combining marks and zero-width characters.
constexpr Range kZero[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
    {0x064B, 0x065F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
    {0x2028, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0x3099, 0x309A},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

template <size_t N>
bool InRanges(const Range (&ranges)[N], char32_t c) {
  const Range* it = std::upper_bound(
      std::begin(ranges), std::end(ranges), c,
      [](char32_t value, const Range& r) { return value < r.first; });
  return it != std::begin(ranges) && c <= std::prev(it)->last;
}

}  // namespace

char32_t NextCodePoint(absl::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return uint8_t(text[i]); };
  const uint8_t lead = byte(*pos);
  int length;
  char32_t c;
  if (lead < 0x80) {
    ++*pos;
    return lead;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, c = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, c = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, c = lead & 0x07;
  } else {
    ++*pos;
    return kReplacement;
  }
  if (*pos + length > text.size()) {
    ++*pos;
    return kReplacement;
  }
  for (int i = 1; i < length; ++i) {
    const uint8_t b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) {
      ++*pos;
      return kReplacement;
    }
    c = (c << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  const bool overlong =
      (length == 3 && c < 0x800) || (length == 4 && c < 0x10000);
  if (overlong || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
    ++*pos;
    return kReplacement;
  }
  *pos += length;
  return c;
}

int CodePointWidth(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c < 0xA0)) return 0;
  if (c < 0x300) return 1;
  if (InRanges(kZero, c)) return 0;
  return InRanges(kWide, c) ? 2 : 1;
}

int DisplayWidth(absl::string_view text) {
  int width = 0;
  for (size_t pos = 0; pos < text.size();) {
    width += CodePointWidth(NextCodePoint(text, &pos));
  }
  return width;
}

std::string TruncateToWidth(absl::string_view text, int width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width <= 0) return "";
  // Keep code points while they leave one column for the ellipsis.
  int used = 0;
  size_t end = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int w = CodePointWidth(NextCodePoint(text, &pos));
    if (used + w > width - 1) break;
    used += w;
    end = pos;
  }
  return std::string(text.substr(0, end)) + "…";
}

std::string PadToWidth(absl::string_view text, int width) {
  std::string out(text);
  const int w = DisplayWidth(text);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::vector<std::string> WrapToWidth(absl::string_view text, int width) {
  width = std::max(width, 2);
  std::vector<std::string> lines;
  std::string line;
  int line_width = 0;
  size_t last_space = std::string::npos;  // byte offset in `line`
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t c = NextCodePoint(text, &pos);
    if (c == '\n') {
      lines.push_back(line);
      line.clear(), line_width = 0, last_space = std::string::npos;
      continue;
    }
    const int w = CodePointWidth(c);
    if (line_width + w > width) {
      std::string rest;
      if (last_space != std::string::npos && last_space > 0) {
        rest = line.substr(last_space + 1);
        line.resize(last_space);
      }
      lines.push_back(line);
      line = rest, line_width = DisplayWidth(rest);
      last_space = std::string::npos;
      if (line_width + w > width) {  // the carried word is itself too long
        lines.push_back(line);
        line.clear(), line_width = 0;
      }
      // A space that caused the break is dropped, not carried over.
      if (c == ' ' && line.empty()) continue;
    }
    if (c == ' ') last_space = line.size();
    line.append(text.data() + start, pos - start);
    line_width += w;
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

std::string EscapeControls(absl::string_view text) {
  std::string out;
  for (const char ch : text) {
    const uint8_t b = uint8_t(ch);
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (b < 0x20 || b == 0x7F) {
      out += absl::StrFormat("\\x%02X", b);
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace tinylm
