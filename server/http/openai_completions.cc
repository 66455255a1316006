#include "server/http/openai_completions.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/http/status_mapping.h"
#include "util/quote.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

using json = nlohmann::json;

constexpr int64_t kDefaultMaxTokens = 16;  // OpenAI's default
constexpr int kMaxLogprobs = 5;            // OpenAI's limit

// Fields read below, and those accepted only at their no-op value.
const std::set<std::string>& KnownFields() {
  static const auto* fields = new std::set<std::string>{
      "model",  "prompt", "max_tokens",       "temperature", "top_p",
      "stop",   "seed",   "logprobs",         "stream",      "stream_options",
      "n",      "echo",   "best_of",          "suffix",      "presence_penalty",
      "user",   "logit_bias", "frequency_penalty"};
  return *fields;
}

absl::Status Refuse(const std::string& field, absl::string_view why,
                    std::string* param) {
  *param = field;
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// `body[field]` when present and not null.
const json* Field(const json& body, const std::string& field) {
  auto it = body.find(field);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

absl::Status ReadPrompt(const json& prompt, v1::GenerateRequest& request,
                        int64_t* chars, std::string* param) {
  const json* one = &prompt;
  if (prompt.is_array() && prompt.size() == 1 &&
      (prompt[0].is_string() || prompt[0].is_array())) {
    one = &prompt[0];  // a batch of one prompt
  }
  if (one->is_string()) {
    const std::string& text = one->get_ref<const std::string&>();
    request.set_text(text);
    *chars = Utf8Length(text);
    return absl::OkStatus();
  }
  if (one->is_array() && !one->empty()) {
    for (const json& id : *one) {
      if (!id.is_number_integer()) {
        return Refuse("prompt", "token ids must be integers", param);
      }
      request.mutable_token_ids()->add_ids(id.get<int32_t>());
    }
    return absl::OkStatus();
  }
  return Refuse("prompt",
                "must be a string, a list of token ids, or a list holding "
                "one of those (one prompt per request)",
                param);
}

absl::Status ReadSampling(const json& body, v1::SamplingParams& sampling,
                          std::string* param) {
  if (const json* t = Field(body, "temperature")) {
    if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 2) {
      return Refuse("temperature", "must be a number in [0, 2]", param);
    }
    sampling.set_temperature(t->get<float>());
  }
  if (const json* p = Field(body, "top_p")) {
    if (!p->is_number() || p->get<double>() <= 0 || p->get<double>() > 1) {
      return Refuse("top_p", "must be a number in (0, 1]", param);
    }
    sampling.set_top_p(p->get<float>());
  }
  if (const json* seed = Field(body, "seed")) {
    if (!seed->is_number_integer() || seed->get<int64_t>() < 0) {
      return Refuse("seed", "must be a non-negative integer", param);
    }
    sampling.set_seed(seed->get<uint64_t>());
  }
  return absl::OkStatus();
}

// Fields accepted only at the value that changes nothing.
absl::Status RefuseUnsupported(const json& body, std::string* param) {
  for (const char* field : {"n", "best_of"}) {
    if (const json* v = Field(body, field); v && *v != 1) {
      return Refuse(field, "only 1 is supported", param);
    }
  }
  if (const json* v = Field(body, "echo"); v && *v != false) {
    return Refuse("echo", "only false is supported", param);
  }
  if (const json* v = Field(body, "suffix"); v && *v != "") {
    return Refuse("suffix", "is not supported", param);
  }
  for (const char* field : {"presence_penalty", "frequency_penalty"}) {
    if (const json* v = Field(body, field); v && *v != 0) {
      return Refuse(field,
                    "is not supported (tinylm.v1's repetition_penalty is)",
                    param);
    }
  }
  if (const json* v = Field(body, "logit_bias"); v && !v->empty()) {
    return Refuse("logit_bias", "is not supported", param);
  }
  return absl::OkStatus();
}

std::string FinishReason(const v1::GenerateSummary& summary) {
  return summary.finish_reason() == v1::FINISH_REASON_LENGTH ? "length"
                                                             : "stop";
}

// The token as OpenAI lists it: its text, or "bytes:\xNN..." when its
// bytes are not valid UTF-8 on their own.
std::string TokenString(const std::string& raw) {
  if (IsValidUtf8(raw)) return raw;
  std::string out = "bytes:";
  for (unsigned char c : raw) absl::StrAppendFormat(&out, "\\x%02x", c);
  return out;
}

json Usage(const v1::GenerateSummary& summary) {
  return {{"prompt_tokens", summary.prompt_tokens()},
          {"completion_tokens", summary.generated_tokens()},
          {"total_tokens",
           summary.prompt_tokens() + summary.generated_tokens()}};
}

}  // namespace

absl::StatusOr<CompletionRequest> ParseCompletionRequest(
    absl::string_view body, std::string* param) {
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::InvalidArgumentError(
        "the request body is not a JSON object");
  }
  for (const auto& [key, value] : parsed.items()) {
    if (KnownFields().count(key) == 0) {
      *param = key.substr(0, 64);
      return absl::InvalidArgumentError(
          absl::StrCat("unrecognized request argument ", Quote(key)));
    }
  }
  CompletionRequest out;
  v1::GenerateRequest& request = out.generate;
  const json* model = Field(parsed, "model");
  if (model == nullptr || !model->is_string()) {
    return Refuse("model", "a model name is required (GET /v1/models)",
                  param);
  }
  request.set_model(model->get<std::string>());
  const json* prompt = Field(parsed, "prompt");
  if (prompt == nullptr) return Refuse("prompt", "is required", param);
  if (absl::Status s = ReadPrompt(*prompt, request, &out.prompt_chars, param);
      !s.ok()) {
    return s;
  }
  int64_t max_tokens = kDefaultMaxTokens;
  if (const json* m = Field(parsed, "max_tokens")) {
    if (!m->is_number_integer() || m->get<int64_t>() < 1) {
      return Refuse("max_tokens", "must be a positive integer", param);
    }
    max_tokens = m->get<int64_t>();
  }
  request.set_max_new_tokens(
      static_cast<uint32_t>(std::min<int64_t>(max_tokens, UINT32_MAX)));
  if (absl::Status s = ReadSampling(parsed, *request.mutable_sampling(), param);
      !s.ok()) {
    return s;
  }
  if (const json* stop = Field(parsed, "stop")) {
    if (stop->is_string()) {
      request.add_stop(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) return Refuse("stop", "must hold strings", param);
        request.add_stop(s.get<std::string>());
      }
    } else {
      return Refuse("stop", "must be a string or a list of strings", param);
    }
  }
  if (const json* lp = Field(parsed, "logprobs")) {
    if (!lp->is_number_integer() || lp->get<int64_t>() < 0 ||
        lp->get<int64_t>() > kMaxLogprobs) {
      return Refuse("logprobs",
                    absl::StrCat("must be an integer in [0, ", kMaxLogprobs,
                                 "]"),
                    param);
    }
    out.logprobs = lp->get<int>();
    request.set_top_n(out.logprobs);
  }
  if (const json* stream = Field(parsed, "stream")) {
    if (!stream->is_boolean()) return Refuse("stream", "must be a boolean", param);
    out.stream = stream->get<bool>();
  }
  if (const json* options = Field(parsed, "stream_options")) {
    const json* usage =
        options->is_object() ? Field(*options, "include_usage") : nullptr;
    if (!out.stream || (usage != nullptr && !usage->is_boolean())) {
      return Refuse("stream_options",
                    "is {\"include_usage\": bool}, with stream true", param);
    }
    out.include_usage = usage != nullptr && usage->get<bool>();
  }
  if (absl::Status s = RefuseUnsupported(parsed, param); !s.ok()) return s;
  return out;
}

CompletionBuilder::CompletionBuilder(const CompletionRequest& request,
                                     std::string id, int64_t created)
    : request_(request), id_(std::move(id)), created_(created) {
  logprobs_ = {{"tokens", json::array()},
               {"token_logprobs", json::array()},
               {"top_logprobs", json::array()},
               {"text_offset", json::array()}};
}

json CompletionBuilder::Logprobs(const v1::GeneratedToken& token) const {
  json top = json::object();
  for (const v1::TokenLogprob& a : token.alternatives()) {
    top[a.piece()] = a.logprob();
  }
  return {{"tokens", {TokenString(token.raw())}},
          {"token_logprobs", {token.logprob()}},
          {"top_logprobs", {top}},
          {"text_offset", {request_.prompt_chars + text_chars_}}};
}

void CompletionBuilder::Advance(const v1::GeneratedToken& token) {
  text_ += token.text();
  text_chars_ += Utf8Length(token.text());
}

void CompletionBuilder::Add(const v1::GeneratedToken& token) {
  if (request_.logprobs >= 0) {
    const json one = Logprobs(token);
    for (const char* key :
         {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
      logprobs_[key].push_back(one[key][0]);
    }
  }
  Advance(token);
}

json CompletionBuilder::Envelope(json choice) const {
  return {{"id", id_},
          {"object", "text_completion"},
          {"created", created_},
          {"model", request_.generate.model()},
          {"choices", json::array({std::move(choice)})}};
}

json CompletionBuilder::Completion(const v1::GenerateSummary& summary) const {
  json out = Envelope(
      {{"text", text_},
       {"index", 0},
       {"logprobs", request_.logprobs >= 0 ? logprobs_ : json(nullptr)},
       {"finish_reason", FinishReason(summary)}});
  out["usage"] = Usage(summary);
  return out;
}

json CompletionBuilder::TokenChunk(const v1::GeneratedToken& token) {
  json logprobs = request_.logprobs >= 0 ? Logprobs(token) : json(nullptr);
  Advance(token);
  return Envelope({{"text", token.text()},
                   {"index", 0},
                   {"logprobs", std::move(logprobs)},
                   {"finish_reason", nullptr}});
}

json CompletionBuilder::FinalChunk(const v1::GenerateSummary& summary) const {
  return Envelope({{"text", ""},
                   {"index", 0},
                   {"logprobs", nullptr},
                   {"finish_reason", FinishReason(summary)}});
}

json CompletionBuilder::UsageChunk(const v1::GenerateSummary& summary) const {
  json out = Envelope(nullptr);
  out["choices"] = json::array();
  out["usage"] = Usage(summary);
  return out;
}

json OpenAiError(const grpc::Status& status, const std::string& param) {
  const int http = HttpStatusOf(status.error_code());
  const char* type = http == 401   ? "authentication_error"
                     : http == 429 ? "rate_limit_error"
                     : http < 500  ? "invalid_request_error"
                                   : "server_error";
  return {{"error",
           {{"message", status.error_message()},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", ConnectCodeName(status.error_code())}}}};
}

json OpenAiModelList(const v1::ListModelsResponse& models) {
  json data = json::array();
  for (const v1::ModelInfo& m : models.models()) {
    data.push_back({{"id", m.name()},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "tinylm"}});
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace tinylm
