// tinylm generate PROMPT: streams the continuation as the server produces
// it. Text mode writes the prompt (--echo) and then each token's text the
// moment it arrives, and a summary line on stderr; --json writes one JSON
// object per line: {"token": {...}} per token, then {"summary": {...}}.
#include <unistd.h>

#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "client/command.h"
#include "client/interventions.h"
#include "client/text/json_output.h"
#include "proto/finish_reason.h"

namespace tinylm {
namespace {

nlohmann::json TokenJson(const v1::GeneratedToken& token) {
  nlohmann::json alternatives = nlohmann::json::array();
  for (const v1::TokenLogprob& alt : token.alternatives()) {
    alternatives.push_back(
        {{"id", alt.id()}, {"piece", alt.piece()}, {"logprob", alt.logprob()}});
  }
  nlohmann::json out = {{"index", token.index()},
                        {"id", token.id()},
                        {"text", token.text()},
                        {"raw_hex", absl::BytesToHexString(token.raw())},
                        {"logprob", token.logprob()}};
  if (!alternatives.empty()) out["alternatives"] = alternatives;
  if (token.has_effect()) out["effect"] = EffectJson(token.effect());
  return out;
}

nlohmann::json SummaryJson(const v1::GenerateSummary& s) {
  nlohmann::json out = {
          {"finish_reason", FinishReasonLabel(s.finish_reason())},
          {"prompt_tokens", s.prompt_tokens()},
          {"generated_tokens", s.generated_tokens()},
          {"seed", JsonUint64(s.seed())},
          {"stop", s.stop()},
          {"timings",
           {{"queue_ms", s.timings().queue_ms()},
            {"time_to_first_token_ms", s.timings().time_to_first_token_ms()},
            {"total_ms", s.timings().total_ms()}}}};
  if (s.has_effect()) out["effect"] = EffectJson(s.effect());
  return out;
}

std::string SummaryLine(const v1::GenerateSummary& s) {
  std::string reason = FinishReasonLabel(s.finish_reason());
  if (!s.stop().empty()) reason += " \"" + s.stop() + "\"";
  return absl::StrFormat(
      "[%s: %d prompt + %d new tokens, seed %d, first token %.1f ms, "
      "total %.1f ms]",
      reason, s.prompt_tokens(), s.generated_tokens(), s.seed(),
      s.timings().time_to_first_token_ms(), s.timings().total_ms());
}

v1::GenerateRequest MakeRequest(const CliOptions& o, const std::string& model) {
  v1::GenerateRequest request;
  request.set_model(model);
  request.set_max_new_tokens(o.max_new_tokens);
  if (o.sampling.any_set())
    FillSampling(o.sampling, request.mutable_sampling());
  for (const std::string& stop : o.stop) request.add_stop(stop);
  request.set_top_n(o.top_n);
  return request;
}

}  // namespace

absl::Status RunGenerate(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  v1::GenerateRequest request = MakeRequest(o, *model);
  if (absl::Status s = SetPrompt(context, &request); !s.ok()) return s;
  if (absl::Status s = SetInterventions(o, &request); !s.ok()) return s;

  const bool text = !o.json;
  // The prompt is echoed once the server has accepted the request, so that
  // a refused request prints nothing on stdout.
  bool echo = text && o.echo && request.has_text();
  bool wrote = false;  // text on stdout that still needs its newline
  v1::GenerateSummary summary;
  bool has_summary = false;
  const auto stream = [&](grpc::ClientContext* call) {
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        context.stub->Generate(call, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (echo) {
        std::cout << request.text();
        echo = false;
        wrote = true;
      }
      if (response.has_token()) {
        if (text) {
          std::cout << response.token().text() << std::flush;
          wrote = wrote || !response.token().text().empty();
        } else {
          PrintJson({{"token", TokenJson(response.token())}}, -1);
        }
      } else if (response.has_summary()) {
        summary = response.summary();
        has_summary = true;
      }
    }
    return reader->Finish();
  };
  // A stream may run as long as it produces tokens unless --timeout says.
  const absl::Status status =
      Call(context.Settings(absl::InfiniteDuration()), stream);
  if (wrote) std::cout << std::endl;
  if (!status.ok()) return status;
  if (!has_summary) {
    return absl::DataLossError("the stream ended without its summary");
  }
  if (text) {
    std::cerr << SummaryLine(summary) << std::endl;
    if (summary.has_effect()) {
      std::cerr << "[interventions: " << FormatEffect(summary.effect()) << "]"
                << std::endl;
    }
  } else {
    PrintJson({{"summary", SummaryJson(summary)}}, -1);
  }
  return absl::OkStatus();
}

}  // namespace tinylm
