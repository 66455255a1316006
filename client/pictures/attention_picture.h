// What attention and compare share to turn attention maps into pictures:
// the label font, a matrix as a heatmap panel, and a prompt short enough
// for a picture's title.
#ifndef TINYLM_CLIENT_PICTURES_ATTENTION_PICTURE_H_
#define TINYLM_CLIENT_PICTURES_ATTENTION_PICTURE_H_

#include <string>

#include "client/pictures/attention_data.h"
#include "client/pictures/heatmap.h"

namespace tinylm {

// `font` (--font), else the first Japanese font installed, else
// "sans-serif"; warns on stderr when the labels may show as boxes.
std::string ChooseFont(const std::string& font);

// One matrix of `set` (all its rows) as a heatmap panel.
HeatmapPanel MakePanel(const AttentionSet& set, const AttentionMatrix& m,
                       std::string title);

// Query rows and keys [begin, end) of `m` (rows `m` has) as a labelled
// heatmap panel: the zoom beside an overview.
HeatmapPanel ZoomPanel(const AttentionSet& set, const AttentionMatrix& m,
                       size_t begin, size_t end, std::string title);

// "…" past `width` columns, so a long prompt fits a picture's title.
std::string ShortPrompt(const std::string& prompt, int width = 60);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_ATTENTION_PICTURE_H_
