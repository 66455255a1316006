// The pictures of the inspection commands: the attention overview (and
// its max pooling), the logit lens grid and the scored text, each drawn to
// a PNG of a sane size; their refusals of inconsistent input.
#include "client/pictures/attention_overview.h"

#include <cairo.h>

#include <filesystem>
#include <string>

#include "client/pictures/token_grid.h"
#include "client/pictures/token_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

// width, height of a PNG file (0, 0 when it does not load).
std::pair<int, int> PngSize(const std::string& path) {
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  std::pair<int, int> size = {0, 0};
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    size = {cairo_image_surface_get_width(s),
            cairo_image_surface_get_height(s)};
  }
  cairo_surface_destroy(s);
  return size;
}

std::string Scratch(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

TEST(AttentionOverviewTest, MaxPoolKeepsEachBlocksLargestValue) {
  // 3 x 3 in blocks of 2: [[1, 2 | 3], [4, 0 | 0], [0, 0 | 9]]
  const std::vector<float> values = {1, 2, 3, 4, 0, 0, 0, 0, 9};
  EXPECT_THAT(MaxPool(values, 3, 3, 2), ::testing::ElementsAre(4, 3, 0, 9));
  EXPECT_EQ(MaxPool(values, 3, 3, 1), values);
}

TEST(AttentionOverviewTest, ALongMapFitsTheOverviewSize) {
  const size_t t = 1024;
  OverviewPanel panel;
  panel.title = "head 0";
  panel.rows = panel.columns = t;
  panel.values.assign(t * t, 0.0f);
  for (size_t i = 0; i < t; ++i) panel.values[i * t + i / 2] = 1.0f;
  panel.prompt_tokens = 900;
  panel.zoom_begin = 976;
  panel.zoom_end = 1024;
  OverviewSpec spec{"base — layer 9", {panel, panel}};
  const std::string path = Scratch("overview.png");
  ASSERT_TRUE(WriteOverviewPng(spec, path).ok());
  const auto [width, height] = PngSize(path);
  // Two 512-pixel panels side by side, with axes and the colour bar.
  EXPECT_GT(width, 2 * 512);
  EXPECT_LT(width, 2 * 512 + 400);
  EXPECT_GT(height, 512);
  EXPECT_LT(height, 512 + 200);
  panel.values.pop_back();
  spec.panels = {panel};
  EXPECT_EQ(WriteOverviewPng(spec, path).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AttentionOverviewTest, LensGridAndScoredTextDraw) {
  TokenGridPanel grid;
  grid.title = "position 3";
  grid.row_labels = {"embeddings", "block 0"};
  grid.column_labels = {"1", "2"};
  grid.pieces = {{"町", "▁the"}, {"\n", "は"}};
  grid.values = {{0.5f, 0.25f}, {0.9f, 0.01f}};
  grid.note_header = "KL";
  grid.notes = {"1.20", "0.00"};
  const std::string lens = Scratch("lens.png");
  ASSERT_TRUE(WriteTokenGridPng({"lens", {grid}}, lens).ok());
  EXPECT_GT(PngSize(lens).first, 0);
  grid.values.pop_back();
  EXPECT_EQ(WriteTokenGridPng({"lens", {grid}}, lens).code(),
            absl::StatusCode::kInvalidArgument);

  TokenTextParagraph p{"base: loss 3.2", {"吾", "輩", "\n", "は"},
                       {std::nullopt, 3.5f, 0.5f, 1.0f}};
  const std::string score = Scratch("score.png");
  ASSERT_TRUE(WriteTokenTextPng({"score", {p, p}}, score).ok());
  const auto [width, height] = PngSize(score);
  EXPECT_GT(width, 900);
  EXPECT_GT(height, 4 * 26);  // two paragraphs of two lines
  p.values.pop_back();
  EXPECT_EQ(WriteTokenTextPng({"score", {p}}, score).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tinylm
