#include "client/pictures/font_check.h"

#include <fontconfig/fontconfig.h>

#include "absl/strings/match.h"

namespace tinylm {

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

}  // namespace tinylm
