// HOST:PORT parsing of the listening flags (server/operations/listen_address.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "server/operations/listen_address.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(ListenAddressTest, HostAndPort) {
  auto v4 = ParseListenAddress("metrics_listen", "127.0.0.1:9464");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto v6 = ParseListenAddress("metrics_listen", "[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"", "9090", ":9090", "host:", "host:x", "h:70000",
                          "::1:9090", "[]:1", "[::1:9"}) {
    const auto parsed = ParseListenAddress("metrics_listen", bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr(absl::StrCat("--metrics_listen=", bad, ":")));
  }
}

}  // namespace
}  // namespace tinylm
