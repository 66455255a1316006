// Request log lines (server/operations/request_log.h): JSON and text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nlohmann/json.hpp"
#include "server/operations/request_log.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

RequestLogEntry Entry() {
  RequestLogEntry e;
  e.time = absl::FromUnixSeconds(1700000000) + absl::Milliseconds(123);
  e.request_id = "r-1";
  e.rpc = "Generate";
  e.model = "base";
  e.code = "OK";
  e.peer = "ipv4:127.0.0.1:5000";
  e.prompt_tokens = 7;
  e.generated_tokens = 3;
  e.ttft_ms = 12.34567;
  e.total_ms = 45.6;
  return e;
}

TEST(RequestLogFormatTest, JsonLine) {
  RequestLogEntry e = Entry();
  const std::string line = FormatJson(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line,
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"request_id\":\"r-1\","
            "\"rpc\":\"Generate\",\"model\":\"base\",\"code\":\"OK\","
            "\"prompt_tokens\":7,\"generated_tokens\":3,\"ttft_ms\":12.346,"
            "\"total_ms\":45.6,\"peer\":\"ipv4:127.0.0.1:5000\"}");
  e.code = "INVALID_ARGUMENT";
  e.error = "text: not valid UTF-8 \xff\nsecond line";
  e.ttft_ms.reset();
  const nlohmann::json parsed = nlohmann::json::parse(FormatJson(e));
  EXPECT_TRUE(parsed["ttft_ms"].is_null());
  EXPECT_THAT(parsed["error"].get<std::string>(), HasSubstr("second line"));
  EXPECT_EQ(FormatJson(e).find('\n'), std::string::npos);
}

TEST(RequestLogFormatTest, TextLine) {
  RequestLogEntry e = Entry();
  EXPECT_EQ(FormatText(e),
            "2023-11-14T22:13:20.123Z request_id=r-1 rpc=Generate model=base "
            "code=OK prompt_tokens=7 generated_tokens=3 ttft_ms=12.346 "
            "total_ms=45.600 peer=ipv4:127.0.0.1:5000");
  e.model = "a model";
  e.error = "bad\nthing";
  e.ttft_ms.reset();
  const std::string line = FormatText(e);
  EXPECT_THAT(line, HasSubstr("model=\"a model\""));
  EXPECT_THAT(line, HasSubstr("ttft_ms=-"));
  EXPECT_THAT(line, HasSubstr("error=\"bad\\nthing\""));
}

TEST(RequestLogFormatTest, Formats) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("off"), LogFormat::kOff);
  EXPECT_THAT(std::string(ParseLogFormat("xml").status().message()),
              HasSubstr("--log_requests=xml"));
}

}  // namespace
}  // namespace tinylm
