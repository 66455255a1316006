// Display width of UTF-8 text and the terminal table formatter.
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/display_width.h"
#include "client/text_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::ElementsAre;

TEST(DisplayWidthTest, CountsWideCharactersTwice) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("町"), 2);
  EXPECT_EQ(DisplayWidth("彼女が"), 6);
  EXPECT_EQ(DisplayWidth("p:0.33, 町"), 10);
  EXPECT_EQ(DisplayWidth("、。「」"), 8);  // CJK punctuation
  EXPECT_EQ(DisplayWidth("ＡＢ"), 4);      // fullwidth Latin
  EXPECT_EQ(DisplayWidth("ｱｲ"), 2);        // halfwidth katakana
  EXPECT_EQ(DisplayWidth("한"), 2);
  EXPECT_EQ(DisplayWidth("e\u0301"), 1);           // combining accent
  EXPECT_EQ(DisplayWidth("\xF0\xA0\x80\x8B"), 2);  // CJK extension B
  EXPECT_EQ(DisplayWidth("a\tb"), 2);              // controls take no column
}

TEST(DisplayWidthTest, DecodesInvalidBytesOneAtATime) {
  const std::string text =
      "\xFF"
      "a\xC0\xAF"
      "\xED\xA0\x80"
      "\xE3\x81";
  std::vector<char32_t> decoded;
  for (size_t pos = 0; pos < text.size();) {
    decoded.push_back(NextCodePoint(text, &pos));
  }
  EXPECT_THAT(decoded, ElementsAre(0xFFFD, 'a', 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD,
                                   0xFFFD, 0xFFFD, 0xFFFD));
  size_t pos = 0;
  EXPECT_EQ(NextCodePoint("町", &pos), U'町');
  EXPECT_EQ(pos, 3u);
}

TEST(DisplayWidthTest, TruncatesAndPadsByColumns) {
  EXPECT_EQ(TruncateToWidth("彼女が子供", 10), "彼女が子供");
  EXPECT_EQ(TruncateToWidth("彼女が子供", 9), "彼女が子…");
  EXPECT_EQ(TruncateToWidth("彼女が子供", 6), "彼女…");  // no half glyph
  EXPECT_EQ(TruncateToWidth("abc", 0), "");
  EXPECT_EQ(PadToWidth("町", 4), "町  ");
  EXPECT_EQ(PadToWidth("abcdef", 4), "abcdef");
}

TEST(DisplayWidthTest, WrapsAtSpacesElseBetweenCharacters) {
  EXPECT_THAT(WrapToWidth("海の見える小さな町", 6),
              ElementsAre("海の見", "える小", "さな町"));
  EXPECT_THAT(WrapToWidth("the quick brown fox", 10),
              ElementsAre("the quick", "brown fox"));
  EXPECT_THAT(WrapToWidth("abcdefghij", 4), ElementsAre("abcd", "efgh", "ij"));
  EXPECT_THAT(WrapToWidth("a町町", 4), ElementsAre("a町", "町"));
  EXPECT_THAT(WrapToWidth("one\ntwo", 10), ElementsAre("one", "two"));
  EXPECT_THAT(WrapToWidth("", 5), ElementsAre(""));
  for (const std::string& line : WrapToWidth("x 海の見える小さな町は、", 5)) {
    EXPECT_LE(DisplayWidth(line), 5) << line;
  }
}

TEST(DisplayWidthTest, EscapesControlCharacters) {
  EXPECT_EQ(EscapeControls("a\nb\tc\r"), "a\\nb\\tc\\r");
  EXPECT_EQ(EscapeControls(std::string("\x01\x7F", 2)), "\\x01\\x7F");
  EXPECT_EQ(EscapeControls("町"), "町");
}

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
