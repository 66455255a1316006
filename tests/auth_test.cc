// Bearer-token authentication (server/operations/auth.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/operations/auth.h"
#include "tests/scratch_dir.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(BearerAuthTest, AcceptsOnlyTheBearerToken) {
  const BearerAuth auth("abc.DEF-123");
  EXPECT_TRUE(auth.Check("Bearer abc.DEF-123").ok());
  EXPECT_TRUE(auth.Check("bearer abc.DEF-123").ok());  // scheme: any case
  for (const char* wrong :
       {"Bearer abc.DEF-12", "Bearer abc.DEF-1234", "Bearer ABC.DEF-123",
        "Bearer ", "Bearer  abc.DEF-123"}) {
    const absl::Status status = auth.Check(std::string(wrong));
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << wrong;
    EXPECT_THAT(std::string(status.message()), HasSubstr("not valid"));
  }
  EXPECT_THAT(std::string(auth.Check("abc.DEF-123").message()),
              HasSubstr("must read \"Bearer <token>\""));
  EXPECT_THAT(std::string(auth.Check(std::nullopt).message()),
              HasSubstr("requires a bearer token"));
}

TEST(BearerAuthTest, TokenFileIsTrimmedAndChecked) {
  const std::string good = WriteScratchFile("good-token", "  tok-123\n");
  EXPECT_EQ(*ReadTokenFile(good), "tok-123");
  struct Case {
    std::string path, message;
  };
  for (const Case& c : std::vector<Case>{
           {ScratchDir() + "/none", "cannot read"},
           {WriteScratchFile("empty-token", "\n"), "empty"},
           {WriteScratchFile("two-words", "a b\n"), "one word"},
       }) {
    const absl::StatusOr<std::string> token = ReadTokenFile(c.path);
    ASSERT_FALSE(token.ok()) << c.path;
    EXPECT_THAT(std::string(token.status().message()),
                HasSubstr("--auth_token_file=" + c.path));
    EXPECT_THAT(std::string(token.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace tinylm
