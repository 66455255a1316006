// The terminal table formatter: alignment by display width, squeezing to
// fit, missing cells.
#include "client/text/text_table.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/text/display_width.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::ElementsAre;

// The display column of every " | " in `line`.
std::vector<int> SeparatorColumns(const std::string& line) {
  std::vector<int> columns;
  for (size_t at = line.find(" | "); at != std::string::npos;
       at = line.find(" | ", at + 1)) {
    columns.push_back(DisplayWidth(line.substr(0, at)));
  }
  return columns;
}

TEST(TextTableTest, AlignsColumnsByDisplayWidth) {
  TextTable table({"model", "top-1"});
  table.AddRow({"base", "p:0.33, 町"});
  table.AddRow({"separate_qkv", "p:0.24, 場所"});
  table.AddRow({"町", "x"});
  const std::string text = table.Render(80);
  const std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);  // header, rule, 3 rows
  EXPECT_EQ(lines[1], std::string(13, '-') + "+" + std::string(13, '-'));
  for (size_t i : {0, 2, 3, 4}) {
    EXPECT_THAT(SeparatorColumns(lines[i]), ElementsAre(12)) << lines[i];
  }
  EXPECT_EQ(lines[3], "separate_qkv | p:0.24, 場所");
}

TEST(TextTableTest, SqueezesWideColumnsToFitAndKeepsAllText) {
  const std::string long_text =
      "その町と隣接し、町は、町が広がる場所にある。そしてこの村には";
  TextTable table({"", "base", "qkv_gelu"});
  table.AddRow({"continuation", long_text, long_text});
  table.AddRow({"top-5", "p:0.33, 町\np:0.23, 街", "p:0.24, 場所"});
  const int width = 50;
  const std::vector<int> widths = table.ColumnWidths(width);
  EXPECT_EQ(widths[0], 12);  // the narrow column keeps its width
  EXPECT_LE(widths[0] + widths[1] + widths[2] + 2 * 3, width);

  const std::string text = table.Render(width);
  std::string base_column;
  const std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    EXPECT_LE(DisplayWidth(line), width) << line;
    if (line.find(" | ") == std::string::npos) continue;
    const std::vector<std::string> cells = absl::StrSplit(line, " | ");
    if (cells.size() >= 2) {
      std::string cell = cells[1];
      cell.erase(cell.find_last_not_of(' ') + 1);
      base_column += cell;
    }
  }
  EXPECT_NE(base_column.find(long_text), std::string::npos) << text;
  EXPECT_NE(base_column.find("p:0.23, 街"), std::string::npos);
}

TEST(TextTableTest, MissingCellsAreEmpty) {
  TextTable table({"a", "b"});
  table.AddRow({"1"});
  EXPECT_EQ(table.Render(40), "a | b\n--+--\n1\n");
}

}  // namespace
}  // namespace tinylm
