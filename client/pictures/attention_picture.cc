#include "client/pictures/attention_picture.h"

#include <iostream>

#include "client/pictures/font_check.h"
#include "client/text/display_width.h"

namespace tinylm {

std::string ChooseFont(const std::string& font) {
  if (!font.empty()) {
    if (!FontFamilyInstalled(font)) {
      std::cerr << "tinylm: warning: font \"" << font
                << "\" is not installed; fontconfig substitutes another, "
                   "which may draw Japanese labels as boxes\n";
    }
    return font;
  }
  if (std::optional<std::string> family = FindJapaneseFont()) return *family;
  std::cerr << "tinylm: warning: no Japanese font found (install "
               "fonts-noto-cjk, or name one with --font); Japanese labels "
               "will show as boxes\n";
  return "sans-serif";
}

HeatmapPanel MakePanel(const AttentionSet& set, const AttentionMatrix& m,
                       std::string title) {
  return {std::move(title), set.tokens, m.values, set.prompt_tokens};
}

std::string ShortPrompt(const std::string& prompt, int width) {
  return TruncateToWidth(EscapeControls(prompt), width);
}

}  // namespace tinylm
