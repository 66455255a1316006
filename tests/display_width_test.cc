// Display width of UTF-8 text: columns, decoding, truncating, wrapping,
// escaping.
#include "client/text/display_width.h"

#include <string>
#include <vector>

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

}  // namespace
}  // namespace tinylm
