#include "client/pictures/attention_picture.h"

#include <algorithm>
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

HeatmapPanel ZoomPanel(const AttentionSet& set, const AttentionMatrix& m,
                       size_t begin, size_t end, std::string title) {
  const size_t t = set.tokens.size(), n = end - begin;
  HeatmapPanel panel;
  panel.title = std::move(title);
  panel.labels.assign(set.tokens.begin() + begin, set.tokens.begin() + end);
  for (size_t row = begin; row < end; ++row) {
    const float* values = m.values.data() + (row - m.row_begin) * t;
    panel.values.insert(panel.values.end(), values + begin, values + end);
  }
  panel.prompt_tokens =
      set.prompt_tokens > begin ? std::min(set.prompt_tokens - begin, n) : 0;
  return panel;
}

std::string ShortPrompt(const std::string& prompt, int width) {
  return TruncateToWidth(EscapeControls(prompt), width);
}

}  // namespace tinylm
