#include "client/commands/pictures.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/display_width.h"
#include "client/font_check.h"

namespace tinylm {

std::string ChooseFont(const CliOptions& options) {
  if (!options.font.empty()) {
    if (!FontFamilyInstalled(options.font)) {
      std::cerr << "tinylm: warning: font \"" << options.font
                << "\" is not installed; fontconfig substitutes another, "
                   "which may draw Japanese labels as boxes\n";
    }
    return options.font;
  }
  if (std::optional<std::string> family = FindJapaneseFont()) return *family;
  std::cerr << "tinylm: warning: no Japanese font found (install "
               "fonts-noto-cjk, or name one with --font); Japanese labels "
               "will show as boxes\n";
  return "sans-serif";
}

HeatmapPanel MakePanel(const AttentionSet& set, const AttentionMatrix& m,
                       std::string title) {
  return {std::move(title), set.tokens, m.values};
}

std::string FileSafe(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                      c == '_' || c == '.';
    out += keep ? c : '_';
  }
  return out.empty() ? "model" : out;
}

absl::Status MakeDirectory(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create the output directory ", dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  file.close();
  if (!file) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

std::string ShortPrompt(const std::string& prompt, int width) {
  return TruncateToWidth(EscapeControls(prompt), width);
}

}  // namespace tinylm
