// Quote (util/quote.h): user values in messages, short and printable.
#include <gtest/gtest.h>

#include <string>

#include "util/quote.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

TEST(QuoteTest, ShortValuesAreQuotedWhole) {
  EXPECT_EQ(Quote("base"), "\"base\"");
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Quote("吾輩は猫"), "\"吾輩は猫\"");
}

TEST(QuoteTest, ControlCharactersQuotesAndBadBytesAreEscaped) {
  EXPECT_EQ(Quote("a\nb\t\"c\\"), "\"a\\nb\\t\\\"c\\\\\"");
  EXPECT_EQ(Quote(std::string("x\0y", 3)), "\"x\\x00y\"");
  EXPECT_EQ(Quote("\xff\xe7\x8c"), "\"\\xff\\xe7\\x8c\"");
}

TEST(QuoteTest, LongValuesAreCutAtACharacterAndMarked) {
  const std::string quoted = Quote(std::string(1 << 20, 'm'));
  EXPECT_EQ(quoted, "\"" + std::string(kQuoteMaxBytes, 'm') +
                        "...\" (1048576 bytes)");
  // A cut never splits a character.
  std::string japanese;
  for (int i = 0; i < 100; ++i) japanese += "猫";  // 3 bytes each
  const std::string cut = Quote(japanese, 10);
  EXPECT_EQ(cut, "\"猫猫猫...\" (300 bytes)");
  EXPECT_TRUE(IsValidUtf8(cut));
}

}  // namespace
}  // namespace tinylm
