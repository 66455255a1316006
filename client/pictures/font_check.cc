#include "client/pictures/font_check.h"

#include <fontconfig/fontconfig.h>

#include <map>
#include <utility>

#include "absl/strings/match.h"

namespace tinylm {
namespace {

// A pattern asking for `family` (and, when c != 0, a glyph for c), with
// fontconfig's substitutions applied as cairo applies them. The caller
// destroys it.
FcPattern* FamilyPattern(const std::string& family, char32_t c) {
  FcPattern* pattern = FcPatternCreate();
  FcPatternAddString(pattern, FC_FAMILY,
                     reinterpret_cast<const FcChar8*>(family.c_str()));
  if (c != 0) {
    FcCharSet* glyphs = FcCharSetCreate();
    FcCharSetAddChar(glyphs, c);
    FcPatternAddCharSet(pattern, FC_CHARSET, glyphs);
    FcCharSetDestroy(glyphs);  // the pattern holds its own reference
  }
  FcConfigSubstitute(nullptr, pattern, FcMatchPattern);
  FcDefaultSubstitute(pattern);
  return pattern;
}

bool HasGlyph(FcPattern* font, char32_t c) {
  FcCharSet* glyphs = nullptr;
  return FcPatternGetCharSet(font, FC_CHARSET, 0, &glyphs) == FcResultMatch &&
         FcCharSetHasChar(glyphs, c);
}

std::string FamilyOf(FcPattern* font, const std::string& otherwise) {
  FcChar8* name = nullptr;
  if (FcPatternGetString(font, FC_FAMILY, 0, &name) != FcResultMatch) {
    return otherwise;
  }
  return reinterpret_cast<const char*>(name);
}

// Whether the font fontconfig picks for `family` has a glyph for `c`.
bool FamilyHasGlyph(const std::string& family, char32_t c) {
  FcPattern* pattern = FamilyPattern(family, 0);
  FcResult result;
  FcPattern* font = FcFontMatch(nullptr, pattern, &result);
  const bool has = font != nullptr && HasGlyph(font, c);
  if (font != nullptr) FcPatternDestroy(font);
  FcPatternDestroy(pattern);
  return has;
}

std::string FindFamilyWithGlyph(const std::string& family, char32_t c) {
  if (!FcInit() || FamilyHasGlyph(family, c)) return family;
  FcPattern* pattern = FamilyPattern(family, c);
  FcResult result;
  FcFontSet* fonts =
      FcFontSort(nullptr, pattern, /*trim=*/FcFalse, nullptr, &result);
  std::string found = family;
  for (int i = 0; fonts != nullptr && i < fonts->nfont; ++i) {
    if (HasGlyph(fonts->fonts[i], c)) {
      found = FamilyOf(fonts->fonts[i], family);
      break;
    }
  }
  if (fonts != nullptr) FcFontSetDestroy(fonts);
  FcPatternDestroy(pattern);
  return found;
}

}  // namespace

const std::vector<std::string>& JapaneseFontFamilies() {
  static const std::vector<std::string> kFamilies = {
      "Noto Sans CJK JP",    "Noto Serif CJK JP", "IPAexGothic",
      "IPAGothic",           "TakaoGothic",       "VL Gothic",
      "Droid Sans Japanese",
  };
  return kFamilies;
}

bool FontFamilyInstalled(const std::string& family) {
  if (!FcInit()) return false;
  FcPattern* pattern = FcPatternCreate();
  FcPatternAddString(pattern, FC_FAMILY,
                     reinterpret_cast<const FcChar8*>(family.c_str()));
  FcObjectSet* objects = FcObjectSetBuild(FC_FAMILY, nullptr);
  // A listing (unlike a match) holds only fonts that really carry the name.
  FcFontSet* fonts = FcFontList(nullptr, pattern, objects);
  bool found = false;
  for (int i = 0; fonts != nullptr && i < fonts->nfont && !found; ++i) {
    FcChar8* name = nullptr;
    for (int n = 0; FcPatternGetString(fonts->fonts[i], FC_FAMILY, n, &name) ==
                    FcResultMatch;
         ++n) {
      if (absl::EqualsIgnoreCase(reinterpret_cast<const char*>(name), family)) {
        found = true;
        break;
      }
    }
  }
  if (fonts != nullptr) FcFontSetDestroy(fonts);
  FcObjectSetDestroy(objects);
  FcPatternDestroy(pattern);
  return found;
}

std::optional<std::string> FindJapaneseFont() {
  for (const std::string& family : JapaneseFontFamilies()) {
    if (FontFamilyInstalled(family)) return family;
  }
  return std::nullopt;
}

std::string FamilyWithGlyph(const std::string& family, char32_t c) {
  // Labels ask for the same few characters again and again.
  static auto* cache =
      new std::map<std::pair<std::string, char32_t>, std::string>();
  auto [it, added] = cache->try_emplace({family, c});
  if (added) it->second = FindFamilyWithGlyph(family, c);
  return it->second;
}

}  // namespace tinylm
