// Terminal display width of UTF-8 text.
//
// A terminal gives East Asian wide and fullwidth characters (kanji, kana,
// fullwidth punctuation) two columns and combining marks none, so byte or
// code point counts misalign any table with Japanese in it. This is a small
// East Asian Width table (Unicode UAX #11, wide and fullwidth ranges) that
// covers what the tokenizers produce; ambiguous characters count as narrow,
// as most terminals show them.
#ifndef TINYLM_CLIENT_TEXT_DISPLAY_WIDTH_H_
#define TINYLM_CLIENT_TEXT_DISPLAY_WIDTH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tinylm {

// Decodes the code point at `*pos` and advances `*pos` past it. A byte that
// does not start a valid sequence decodes as U+FFFD and advances by one.
char32_t NextCodePoint(absl::string_view text, size_t* pos);

// Columns one code point takes: 0 (controls, combining marks, zero-width
// characters), 1 or 2 (wide and fullwidth).
int CodePointWidth(char32_t c);

// Columns `text` takes on a terminal.
int DisplayWidth(absl::string_view text);

// `text` cut to at most `width` columns at a code point boundary; when cut,
// the last column holds "…" (so the result is still at most `width`).
std::string TruncateToWidth(absl::string_view text, int width);

// `text` followed by spaces up to `width` columns (unchanged when wider).
std::string PadToWidth(absl::string_view text, int width);

// Lines of at most `width` columns (width >= 2 so that a wide character
// always fits). Breaks after the last space of a line when there is one,
// else between code points; '\n' in `text` starts a new line.
std::vector<std::string> WrapToWidth(absl::string_view text, int width);

// `text` on one line: '\n', '\r' and '\t' become "\n", "\r", "\t" and
// other control characters "\xNN", so that a token prints as what it is.
std::string EscapeControls(absl::string_view text);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_DISPLAY_WIDTH_H_
