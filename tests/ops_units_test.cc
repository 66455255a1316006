// Units of the operations layer: admission counting, the bearer token
// check, request-log formats, listen addresses, and the metrics text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/operations/admission.h"
#include "server/operations/auth.h"
#include "server/operations/call_record.h"
#include "server/operations/listen_address.h"
#include "server/operations/metrics.h"
#include "server/operations/request_log.h"
#include "tests/ops_test_util.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(AdmissionTest, CountsCallsPerModelUpToTheLimit) {
  Admission admission({"a", "b"}, 2, absl::Milliseconds(300));
  auto first = admission.Acquire("a");
  auto second = admission.Acquire("a");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(admission.InFlight("a"), 2);

  const auto refused = admission.Acquire("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("retry after 300 ms"));
  EXPECT_EQ(RetryAfter(refused.status()), absl::Milliseconds(300));
  EXPECT_EQ(admission.InFlight("a"), 2);  // the refusal holds no place

  EXPECT_TRUE(admission.Acquire("b").ok());  // models count apart
  { Admission::Ticket released = std::move(first).value(); }
  EXPECT_EQ(admission.InFlight("a"), 1);
  EXPECT_TRUE(admission.Acquire("a").ok());
  EXPECT_EQ(admission.Acquire("nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AdmissionTest, MovedTicketsReleaseOnce) {
  Admission admission({"a"}, 1, absl::Seconds(1));
  {
    Admission::Ticket ticket = *admission.Acquire("a");
    Admission::Ticket moved = std::move(ticket);
    Admission::Ticket assigned;
    assigned = std::move(moved);
    EXPECT_EQ(admission.InFlight("a"), 1);
  }
  EXPECT_EQ(admission.InFlight("a"), 0);
}

TEST(AdmissionTest, OnlyMarkedStatusesCarryARetryHint) {
  EXPECT_FALSE(RetryAfter(absl::ResourceExhaustedError("too big")));
  EXPECT_FALSE(RetryAfter(absl::OkStatus()));
  const absl::Status marked = WithRetryAfter(
      absl::ResourceExhaustedError("queue full"), absl::Seconds(2));
  EXPECT_EQ(marked.message(), "queue full; retry after 2000 ms");
  EXPECT_EQ(RetryAfter(marked), absl::Seconds(2));
}

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
           {OpsScratch() + "/none", "cannot read"},
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

TEST(RequestIdTest, UsableIds) {
  EXPECT_TRUE(UsableRequestId("0f3a-b.c_d:e"));
  EXPECT_TRUE(UsableRequestId(std::string(128, 'x')));
  EXPECT_FALSE(UsableRequestId(""));
  EXPECT_FALSE(UsableRequestId(std::string(129, 'x')));
  EXPECT_FALSE(UsableRequestId("a b"));
  EXPECT_FALSE(UsableRequestId("a\"b"));
  EXPECT_FALSE(UsableRequestId("\xe7\x8c\xab"));
}

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

TEST(ServerMetricsTest, TextHasEveryFamilyAndTheRecordedValues) {
  if (!MetricsAvailable()) GTEST_SKIP() << "built without metrics";
  ServerMetrics metrics;
  std::shared_ptr<SchedulerMetrics> base = metrics.ForModel("base", 4);
  base->OnStep(3, /*prefill=*/true);
  base->OnStep(2, /*prefill=*/false);
  base->OnToken(/*first=*/true, absl::Milliseconds(20));
  base->OnToken(/*first=*/false, absl::Milliseconds(3));
  base->OnSlotsInUse(2);
  metrics.CountRequest("Generate", "OK", absl::Milliseconds(30));
  metrics.CountRequest("Generate", "NOT_FOUND", absl::Milliseconds(1));
  const std::string text = metrics.Render({{"base", 5, 7}});
  for (const char* line : {
           "# TYPE tinylm_requests_total counter",
           "tinylm_requests_total{code=\"OK\",rpc=\"Generate\"} 1",
           "tinylm_requests_total{code=\"NOT_FOUND\",rpc=\"Generate\"} 1",
           "# TYPE tinylm_request_duration_seconds histogram",
           "tinylm_generated_tokens_total{model=\"base\"} 2",
           "tinylm_time_to_first_token_seconds_count{model=\"base\"} 1",
           "tinylm_inter_token_latency_seconds_count{model=\"base\"} 1",
           "tinylm_batch_size_sum{model=\"base\",phase=\"prefill\"} 3",
           "tinylm_batch_size_sum{model=\"base\",phase=\"decode\"} 2",
           "tinylm_queue_depth{model=\"base\"} 5",
           "tinylm_streams_in_flight{model=\"base\"} 7",
           "tinylm_kv_cache_slots_used{model=\"base\"} 2",
           "tinylm_kv_cache_slots{model=\"base\"} 4",
           "# TYPE process_resident_memory_bytes gauge",
       }) {
    EXPECT_THAT(text, HasSubstr(line)) << text;
  }
}

}  // namespace
}  // namespace tinylm
