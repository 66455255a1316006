// TextAssembler: complete UTF-8 only, stop strings never in the output.
#include "server/engine/text_assembler.h"

#include <gtest/gtest.h>

namespace tinylm {
namespace {

const std::string kCat = "\xE7\x8C\xAB";  // 猫
const std::string kReplacement = "\xEF\xBF\xBD";

TEST(TextAssemblerTest, AsciiIsReleasedAtOnce) {
  TextAssembler text;
  EXPECT_EQ(text.Append("hello").released, "hello");
  EXPECT_EQ(text.Append(" world").released, " world");
  EXPECT_EQ(text.text(), "hello world");
}

TEST(TextAssemblerTest, SplitCharacterWaitsForItsLastByte) {
  TextAssembler text;
  EXPECT_EQ(text.Append("a\xE7").released, "a");
  EXPECT_EQ(text.Append("\x8C").released, "");
  EXPECT_EQ(text.Append("\xAB").released, kCat);
  EXPECT_EQ(text.text(), "a" + kCat);
}

TEST(TextAssemblerTest, InvalidBytesBecomeReplacementCharacters) {
  TextAssembler text;
  EXPECT_EQ(text.Append("\xFF" "a").released, kReplacement + "a");
  // A truncated character at the very end is replaced on Flush.
  EXPECT_EQ(text.Append("\xE7\x8C").released, "");
  EXPECT_EQ(text.Flush(), kReplacement);
}

TEST(TextAssemblerTest, StopStringIsHeldThenCut) {
  TextAssembler text({"END"});
  EXPECT_EQ(text.Append("abcE").released, "abc");  // "E" may start END
  EXPECT_EQ(text.Append("N").released, "");
  const TextAssembler::Result last = text.Append("Dxyz");
  EXPECT_TRUE(last.stopped);
  EXPECT_EQ(last.stop, "END");
  EXPECT_EQ(last.released, "");
  EXPECT_EQ(text.text(), "abc");
}

TEST(TextAssemblerTest, FalseStartIsReleased) {
  TextAssembler text({"END"});
  EXPECT_EQ(text.Append("xEN").released, "x");
  const TextAssembler::Result r = text.Append("o");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.released, "ENo");
}

TEST(TextAssemblerTest, MultibyteStopAcrossTokensAndEarliestWins) {
  TextAssembler text({"zz", kCat});
  EXPECT_EQ(text.Append("ab\xE7").released, "ab");
  const TextAssembler::Result r = text.Append("\x8C\xAB" "czz");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop, kCat);
  EXPECT_EQ(text.text(), "ab");
}

TEST(TextAssemblerTest, FlushReleasesAHeldStopPrefix) {
  TextAssembler text({"END"});
  EXPECT_EQ(text.Append("okEN").released, "ok");
  EXPECT_EQ(text.Flush(), "EN");
  EXPECT_EQ(text.text(), "okEN");
}

TEST(Utf8Test, CompletePrefixAndSanitize) {
  EXPECT_EQ(CompleteUtf8Prefix("ab" + kCat.substr(0, 2)), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("ab" + kCat), 5u);
  EXPECT_EQ(CompleteUtf8Prefix("\xFF"), 1u);  // never valid: not held
  EXPECT_EQ(SanitizeUtf8("a\xC0\xAF" "b"), "a" + kReplacement +
                                               kReplacement + "b");
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), kReplacement + kReplacement +
                                              kReplacement);  // surrogate
}

}  // namespace
}  // namespace tinylm
