// JSON output: 64-bit integers as the proto3 JSON mapping writes them.
#include "client/text/json_output.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(JsonOutputTest, Uint64ValuesAreDecimalStrings) {
  EXPECT_EQ(JsonUint64(0), "0");
  EXPECT_EQ(JsonUint64(std::numeric_limits<uint64_t>::max()),
            "18446744073709551615");
  // 2^53 + 1: the first integer a double cannot hold.
  EXPECT_EQ(DumpJson({{"seed", JsonUint64(9007199254740993u)}}, -1),
            R"({"seed":"9007199254740993"})");
}

TEST(JsonOutputTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(DumpJson(std::string("a\xFF"), -1), "\"a\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace tinylm
