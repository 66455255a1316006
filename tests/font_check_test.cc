// Finding installed font families without fontconfig's substitutes.
#include "client/pictures/font_check.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(FontCheckTest, KnowsInstalledFamiliesFromSubstitutes) {
  // fontconfig would substitute some font for any name; the check must not.
  EXPECT_FALSE(FontFamilyInstalled("tinylm no such family"));
  if (std::optional<std::string> family = FindJapaneseFont()) {
    EXPECT_TRUE(FontFamilyInstalled(*family));
    EXPECT_THAT(JapaneseFontFamilies(), ::testing::Contains(*family));
  }
}

}  // namespace
}  // namespace tinylm
