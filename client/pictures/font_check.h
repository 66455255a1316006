// Finding a font with Japanese glyphs for the heatmap labels.
#ifndef TINYLM_CLIENT_PICTURES_FONT_CHECK_H_
#define TINYLM_CLIENT_PICTURES_FONT_CHECK_H_

#include <optional>
#include <string>
#include <vector>

namespace tinylm {

// Families tried in order when none is asked for: Debian's fonts-noto-cjk
// first, then other common Japanese fonts.
const std::vector<std::string>& JapaneseFontFamilies();

// Whether fontconfig has a font of exactly this family (fontconfig itself
// would silently substitute another one, which draws kanji as boxes).
bool FontFamilyInstalled(const std::string& family);

// The first installed family of JapaneseFontFamilies(), if any.
std::optional<std::string> FindJapaneseFont();

// A family whose font has a glyph for `c`: `family` when the font
// fontconfig picks for it has one, else the family of the font fontconfig
// ranks first among those that have one; `family` when none has. Cairo's
// toy font API draws with the one font it picked and shows any glyph that
// font lacks as a box (Noto Sans CJK has no "↵"), so labels switch fonts
// where they must. Answers are cached; not thread-safe.
std::string FamilyWithGlyph(const std::string& family, char32_t c);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_FONT_CHECK_H_
