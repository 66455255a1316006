// The heatmap renderer: PNG size, orientation (query down, key across),
// labels per token, the line where the prompt ends, legend, errors.
#include "client/pictures/heatmap.h"

#include <cairo.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "client/pictures/font_check.h"
#include "client/pictures/heatmap_internal.h"
#include "client/text/display_width.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using heatmap_internal::LabelRun;
using ::testing::HasSubstr;

// A causal [T, T] matrix with 1 at (query, key) = (row_hot, 0) and the
// rest of each row spread evenly over the visible keys.
HeatmapPanel Panel(const std::vector<std::string>& labels, size_t row_hot,
                   const std::string& title = "head 0") {
  const size_t t = labels.size();
  HeatmapPanel p{title, labels, std::vector<float>(t * t, 0.0f)};
  for (size_t row = 0; row < t; ++row) {
    for (size_t col = 0; col <= row; ++col) {
      p.values[row * t + col] =
          row == row_hot ? (col == 0 ? 1.0f : 0.0f) : 1.0f / (row + 1);
    }
  }
  return p;
}

class HeatmapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tinylm_heatmap_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }

  fs::path dir_;
};

struct Png {
  cairo_surface_t* surface;
  explicit Png(const std::string& path)
      : surface(cairo_image_surface_create_from_png(path.c_str())) {}
  ~Png() { cairo_surface_destroy(surface); }
  bool ok() const {
    return cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS;
  }
  int width() const { return cairo_image_surface_get_width(surface); }
  int height() const { return cairo_image_surface_get_height(surface); }
  uint32_t Pixel(double x, double y) const {
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    return reinterpret_cast<const uint32_t*>(data + int(y) * stride)[int(x)] &
           0xFFFFFF;
  }
};

int Brightness(uint32_t rgb) {
  return ((rgb >> 16) & 0xFF) + ((rgb >> 8) & 0xFF) + (rgb & 0xFF);
}

const std::vector<std::string> kTokens = {"彼女", "が", "子供", "の",
                                          "頃",   "に", "住ん", "でいた"};

TEST_F(HeatmapTest, WritesAPngOfTheLayoutSizeWithOneLabelPerToken) {
  HeatmapSpec spec;
  spec.title = "base — layer 9";
  spec.panels = {Panel(kTokens, 3)};
  const std::string path = Path("one.png");
  absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(spec, path);
  ASSERT_TRUE(layout.ok()) << layout.status();

  Png png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), layout->width);
  EXPECT_EQ(png.height(), layout->height);
  ASSERT_EQ(layout->panels.size(), 1u);
  const PanelLayout& panel = layout->panels[0];
  EXPECT_EQ(panel.query_labels.size(), kTokens.size());
  EXPECT_EQ(panel.key_labels.size(), kTokens.size());
  EXPECT_DOUBLE_EQ(panel.matrix.width, panel.cell * kTokens.size());
  EXPECT_DOUBLE_EQ(panel.matrix.height, panel.cell * kTokens.size());

  std::set<uint32_t> colours;
  for (int y = 0; y < png.height(); y += 3) {
    for (int x = 0; x < png.width(); x += 3) colours.insert(png.Pixel(x, y));
  }
  EXPECT_GT(colours.size(), 20u) << "the picture is (nearly) uniform";
}

TEST_F(HeatmapTest, QueryRunsDownAndKeyAcross) {
  HeatmapSpec spec;
  spec.panels = {Panel(kTokens, 5)};
  const std::string path = Path("orientation.png");
  absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(spec, path);
  ASSERT_TRUE(layout.ok()) << layout.status();
  Png png(path);
  ASSERT_TRUE(png.ok());
  const PanelLayout& p = layout->panels[0];
  const auto centre = [&](int row, int col) {
    return png.Pixel(p.matrix.x + (col + 0.5) * p.cell,
                     p.matrix.y + (row + 0.5) * p.cell);
  };
  // (query 5, key 0) = 1 is the darkest cell; its transpose lies above the
  // diagonal (masked, 0) and is the lightest.
  EXPECT_EQ(centre(5, 0), centre(0, 0));  // both exactly 1
  EXPECT_LT(Brightness(centre(5, 0)) + 300, Brightness(centre(0, 5)));
  EXPECT_LT(Brightness(centre(5, 0)), Brightness(centre(5, 1)));
  // Query labels sit left of their rows, key labels below their columns.
  for (size_t i = 0; i < kTokens.size(); ++i) {
    EXPECT_LE(p.query_labels[i].x + p.query_labels[i].width, p.matrix.x + 1e-9);
    EXPECT_NEAR(p.query_labels[i].y, p.matrix.y + i * p.cell, 1e-9);
    EXPECT_GE(p.key_labels[i].y, p.matrix.y + p.matrix.height);
    const double middle = p.key_labels[i].x + p.key_labels[i].width / 2;
    EXPECT_NEAR(middle, p.matrix.x + (i + 0.5) * p.cell, 1e-6);
  }
}

TEST_F(HeatmapTest, PanelsSideBySideShareOneLegend) {
  HeatmapSpec spec;
  spec.panels = {Panel(kTokens, 1, "head 0"), Panel(kTokens, 2, "head 1"),
                 Panel({"a", "b", "c"}, 0, "head 2")};
  absl::StatusOr<HeatmapLayout> layout = LayoutHeatmap(spec);
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_EQ(layout->panels.size(), 3u);
  EXPECT_EQ(layout->panels[2].query_labels.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_GT(
        layout->panels[i].matrix.x,
        layout->panels[i - 1].matrix.x + layout->panels[i - 1].matrix.width);
  }
  const Box& legend = layout->legend;
  EXPECT_GT(legend.x, layout->panels[2].matrix.x);
  EXPECT_LE(legend.x + legend.width, layout->width);
  EXPECT_LE(legend.y + legend.height, layout->height);
  EXPECT_THAT(layout->legend_ticks,
              ::testing::ElementsAre(0.0, 0.25, 0.5, 0.75, 1.0));

  spec.columns = 2;  // a second row
  absl::StatusOr<HeatmapLayout> grid = LayoutHeatmap(spec);
  ASSERT_TRUE(grid.ok());
  EXPECT_GT(grid->panels[2].matrix.y, grid->panels[0].matrix.y);
  EXPECT_LT(grid->width, layout->width);
}

TEST_F(HeatmapTest, LongLabelsGoVerticalAndStayInsideThePicture) {
  std::vector<std::string> labels;
  for (int i = 0; i < 6; ++i) labels.push_back("ながいながいトークン");
  HeatmapSpec spec;
  spec.panels = {Panel(labels, 0)};
  absl::StatusOr<HeatmapLayout> layout = LayoutHeatmap(spec);
  ASSERT_TRUE(layout.ok());
  const PanelLayout& p = layout->panels[0];
  EXPECT_TRUE(p.key_labels_vertical);
  for (const Box& box : p.key_labels) {
    EXPECT_GT(box.height, box.width);
    EXPECT_LE(box.y + box.height, layout->height);
  }
  for (const Box& box : p.query_labels) EXPECT_GE(box.x, 0);
}

TEST_F(HeatmapTest, LabelsShowSpacesControlsAndEmptyPieces) {
  EXPECT_EQ(HeatmapLabel(" the"), "␣the");
  EXPECT_EQ(HeatmapLabel("▁the"), "␣the");
  EXPECT_EQ(HeatmapLabel(" "), "␣");
  EXPECT_EQ(HeatmapLabel("\n"), "↵");
  EXPECT_EQ(HeatmapLabel("。\n\n"), "。↵↵");
  EXPECT_EQ(HeatmapLabel("\t"), "→");
  EXPECT_EQ(HeatmapLabel("\r\n"), "^M↵");
  EXPECT_EQ(HeatmapLabel(std::string("\x1B[0\x7F\0", 5)), "^[[0^?^@");
  EXPECT_EQ(HeatmapLabel("a\xFF"), "a\uFFFD");  // not UTF-8: cairo needs it
  EXPECT_EQ(HeatmapLabel(""), "∅");
  const std::string cut = HeatmapLabel("とてもとてもながいトークン");
  EXPECT_EQ(DisplayWidth(cut), kMaxLabelColumns - 1);  // 2-column glyphs
  EXPECT_THAT(cut, ::testing::EndsWith("…"));
}

TEST_F(HeatmapTest, GlyphsTheFontLacksComeFromAnotherFont) {
  const std::optional<std::string> japanese = FindJapaneseFont();
  if (!japanese) GTEST_SKIP() << "no Japanese font installed";
  const std::vector<LabelRun> runs =
      heatmap_internal::LabelRuns("町↵a", *japanese);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].text, "町");
  EXPECT_EQ(runs[0].family, *japanese);
  // In a vertical label, wide characters and marks stand, letters turn.
  EXPECT_TRUE(runs[0].upright);
  EXPECT_TRUE(runs[1].upright);
  EXPECT_FALSE(runs[2].upright);
  std::string text;
  for (const LabelRun& run : runs) {
    text += run.text;
    // Each run's font has its glyphs (asking again keeps the family).
    size_t pos = 0;
    EXPECT_EQ(FamilyWithGlyph(run.family, NextCodePoint(run.text, &pos)),
              run.family)
        << run.text;
  }
  EXPECT_EQ(text, "町↵a");
}

TEST_F(HeatmapTest, ALineMarksWhereThePromptEndsOnBothAxes) {
  HeatmapSpec spec;
  spec.panels = {Panel(kTokens, 0)};
  spec.panels[0].prompt_tokens = 5;  // 5 prompt + 3 generated
  const std::string path = Path("prompt_end.png");
  absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(spec, path);
  ASSERT_TRUE(layout.ok()) << layout.status();
  const PanelLayout& p = layout->panels[0];
  EXPECT_DOUBLE_EQ(p.prompt_end, 5 * p.cell);
  const Box& key = layout->prompt_end_key;
  EXPECT_GT(key.width, 0);
  EXPECT_GE(key.y, layout->legend.y + layout->legend.height);
  EXPECT_LE(key.x + key.width, layout->width);
  EXPECT_LE(key.y + key.height, layout->height);

  Png png(path);
  ASSERT_TRUE(png.ok());
  const auto orange = [](uint32_t rgb) {
    const int r = (rgb >> 16) & 0xFF, g = (rgb >> 8) & 0xFF, b = rgb & 0xFF;
    return r > 180 && g > 60 && g < 140 && b < 60;
  };
  const double x = p.matrix.x + p.prompt_end, y = p.matrix.y + p.prompt_end;
  // Down the key axis: in the masked upper triangle, and among the labels.
  EXPECT_TRUE(orange(png.Pixel(x, p.matrix.y + 0.5 * p.cell)));
  EXPECT_TRUE(orange(png.Pixel(x, p.matrix.y + p.matrix.height + 2)));
  // Across the query axis: through the cells and the labels.
  EXPECT_TRUE(orange(png.Pixel(p.matrix.x + 0.5 * p.cell, y)));
  EXPECT_TRUE(orange(png.Pixel(p.matrix.x - 2, y)));
  EXPECT_FALSE(orange(png.Pixel(x - p.cell / 2, y - p.cell / 2)));

  // All prompt, or nothing said: no line, no key.
  for (size_t prompt : {size_t{0}, kTokens.size()}) {
    spec.panels[0].prompt_tokens = prompt;
    absl::StatusOr<HeatmapLayout> none = LayoutHeatmap(spec);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->panels[0].prompt_end, 0);
    EXPECT_EQ(none->prompt_end_key.width, 0);
  }
}

TEST_F(HeatmapTest, AxisCaptionsKeepClearOfTheLabels) {
  std::vector<std::string> long_labels;
  for (int i = 0; i < 6; ++i) long_labels.push_back("ながいトークン");
  for (const std::vector<std::string>& labels : {kTokens, long_labels}) {
    HeatmapSpec spec;
    spec.panels = {Panel(labels, 0)};
    absl::StatusOr<HeatmapLayout> layout = LayoutHeatmap(spec);
    ASSERT_TRUE(layout.ok());
    const PanelLayout& p = layout->panels[0];
    for (const Box& label : p.query_labels) {
      EXPECT_LT(p.query_caption.x + p.query_caption.width, label.x);
    }
    for (const Box& label : p.key_labels) {
      EXPECT_LT(label.y + label.height, p.key_caption.y);
    }
  }
}

TEST_F(HeatmapTest, RejectsMatricesThatDoNotMatchTheirLabels) {
  HeatmapSpec spec;
  EXPECT_EQ(LayoutHeatmap(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  HeatmapPanel bad = Panel(kTokens, 0, "bad");
  bad.values.pop_back();
  spec.panels = {Panel(kTokens, 0), bad};
  const absl::Status status = LayoutHeatmap(spec).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("panel 1"));
  EXPECT_THAT(status.message(), HasSubstr("63 values for 8 labels"));
  EXPECT_FALSE(fs::exists(Path("bad.png")));
}

TEST_F(HeatmapTest, ReportsAFileThatCannotBeWritten) {
  HeatmapSpec spec;
  spec.panels = {Panel(kTokens, 0)};
  const absl::Status status =
      WriteHeatmapPng(spec, Path("missing/dir/x.png")).status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("missing/dir/x.png"));
}

}  // namespace
}  // namespace tinylm
