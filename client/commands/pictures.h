// What attention and compare share to turn attention maps into pictures
// and files.
#ifndef TINYLM_CLIENT_COMMANDS_PICTURES_H_
#define TINYLM_CLIENT_COMMANDS_PICTURES_H_

#include <string>

#include "absl/status/status.h"
#include "client/attention_data.h"
#include "client/cli_options.h"
#include "client/heatmap.h"

namespace tinylm {

// --font, else the first Japanese font installed, else "sans-serif"; warns
// on stderr when the labels may show as boxes.
std::string ChooseFont(const CliOptions& options);

// One matrix of `set` as a heatmap panel.
HeatmapPanel MakePanel(const AttentionSet& set, const AttentionMatrix& m,
                       std::string title);

// `name` made safe for a file name (letters, digits, '-', '_', '.').
std::string FileSafe(const std::string& name);

// Creates `dir` (and parents) when missing.
absl::Status MakeDirectory(const std::string& dir);

// Writes `content` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, const std::string& content);

// "…" past `width` columns, so a long prompt fits a picture's title.
std::string ShortPrompt(const std::string& prompt, int width = 60);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_COMMANDS_PICTURES_H_
