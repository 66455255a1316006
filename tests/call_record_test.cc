// CallRecord (server/operations/call_record.h): what one call's end writes
// to the request log, on a server context of its own (no call behind it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/operations/call_record.h"
#include "server/operations/refusals.h"

namespace tinylm {
namespace {

class CallRecordTest : public ::testing::Test {
 protected:
  // The one JSON line the log holds.
  nlohmann::json Line() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    EXPECT_EQ(lines.size(), 1u) << out_.str();
    return lines.empty() ? nlohmann::json() : nlohmann::json::parse(lines[0]);
  }

  CallObservers Observers() { return {nullptr, &log_}; }

  grpc::CallbackServerContext context_;
  std::ostringstream out_;
  RequestLog log_{LogFormat::kJson, &out_};
};

Summary Finished(FinishReason reason, std::vector<int64_t> generated) {
  Summary summary;
  summary.reason = reason;
  summary.generated = std::move(generated);
  summary.time_to_first_token_ms = 7.5;
  return summary;
}

TEST_F(CallRecordTest, CountsWhatTheApiCounts) {
  {
    CallRecord record(&context_, "Generate", Observers());
    record.SetModel("base");
    record.AddPromptTokens(5);
    // Three tokens streamed, the last the end-of-sequence token.
    for (int i = 0; i < 3; ++i) record.CountStreamedToken();
    record.AddSummary(Finished(FinishReason::kEos, {11, 12, 2}));
    EXPECT_TRUE(record.End(absl::OkStatus()).ok());
  }
  const nlohmann::json line = Line();
  EXPECT_EQ(line["rpc"], "Generate");
  EXPECT_EQ(line["model"], "base");
  EXPECT_EQ(line["code"], "OK");
  EXPECT_EQ(line["prompt_tokens"], 5);
  EXPECT_EQ(line["generated_tokens"], 2);  // end-of-sequence excluded
  EXPECT_EQ(line["ttft_ms"], 7.5);
}

TEST_F(CallRecordTest, AStreamCutShortCountsItsStreamedTokens) {
  {
    CallRecord record(&context_, "Generate", Observers());
    for (int i = 0; i < 4; ++i) record.CountStreamedToken();
    record.End(absl::CancelledError("the client cancelled the request"));
  }
  const nlohmann::json line = Line();
  EXPECT_EQ(line["code"], "CANCELLED");
  EXPECT_EQ(line["generated_tokens"], 4);
}

TEST_F(CallRecordTest, OnlyTheFirstEndIsRecorded) {
  {
    CallRecord record(&context_, "TopK", Observers());
    const grpc::Status first = record.End(absl::NotFoundError("no model"));
    EXPECT_EQ(first.error_code(), grpc::StatusCode::NOT_FOUND);
    record.End(absl::OkStatus());
  }
  EXPECT_EQ(Line()["code"], "NOT_FOUND");
}

TEST_F(CallRecordTest, ARecordThatNeverEndedIsACancelledCall) {
  { CallRecord record(&context_, "Compare", Observers()); }
  const nlohmann::json line = Line();
  EXPECT_EQ(line["code"], "CANCELLED");
  EXPECT_EQ(line["error"].get<std::string>(),
            std::string(EndedWithoutStatus().message()));
}

TEST_F(CallRecordTest, ALongModelNameIsCutForTheLog) {
  {
    CallRecord record(&context_, "TopK", Observers());
    record.SetModel(std::string(1 << 20, 'm'));
    record.End(absl::NotFoundError("unknown model"));
  }
  EXPECT_LE(Line()["model"].get<std::string>().size(), 256u);
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

}  // namespace
}  // namespace tinylm
