#include "server/rpc/validate_fields.h"

#include <algorithm>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/quote.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

// The sampler scales float32 logits by 1 / temperature and divides positive
// ones by the repetition penalty: a tiny temperature or penalty (a float
// can be 1e-40) overflows them to inf and NaN, and the failed step fails
// every sequence in the batch. Temperatures below this sample greedily
// anyway, so they are greedy; penalties below the other are refused. Both
// are floats, as the API's fields are: 0.01f is a little below 0.01.
constexpr float kGreedyBelowTemperature = 1e-5f;
constexpr float kMinRepetitionPenalty = 0.01f;

// A text that cannot fit is refused before it is tokenized (tokenizing a
// megabyte takes time and hundreds of megabytes of memory): n bytes make at
// least n / max_token_bytes tokens.
absl::Status CheckTextFits(absl::string_view field, absl::string_view text,
                           const ServedModel& model,
                           const ServiceLimits& limits) {
  const int64_t per_token = model.tokenizer->max_token_bytes();
  const int64_t fewest = (int64_t(text.size()) + per_token - 1) / per_token;
  const int64_t context = model.config.block_size;
  if (fewest <= std::min(limits.max_prompt_tokens, context)) {
    return absl::OkStatus();
  }
  return Invalid(
      field,
      absl::StrCat(
          text.size(), " bytes make at least ", fewest,
          " tokens (one token stands for at most ", per_token,
          " bytes), more than ",
          limits.max_prompt_tokens < context
              ? absl::StrCat("the server limit of ", limits.max_prompt_tokens,
                             " (--max_prompt_tokens)")
              : absl::StrCat("the context length ", context, " of model ",
                             Quote(model.name))));
}

}  // namespace

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::StatusOr<ServedModel*> FindModel(const ModelRegistry& registry,
                                       const std::string& name,
                                       absl::string_view field) {
  if (name.empty()) {
    return Invalid(field, absl::StrCat("required (loaded models: ",
                                       registry.Names(), ")"));
  }
  return registry.Find(name);
}

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       int64_t max_bytes) {
  if (int64_t(text.size()) > max_bytes) {
    return Invalid(field, absl::StrCat(text.size(), " bytes exceed the limit of ",
                                       max_bytes));
  }
  const size_t valid = ValidUtf8Prefix(text);
  if (valid != text.size()) {
    return Invalid(field, absl::StrFormat("not valid UTF-8 (byte 0x%02x at "
                                          "offset %d)",
                                          static_cast<unsigned char>(text[valid]),
                                          valid));
  }
  return absl::OkStatus();
}

absl::Status CheckPromptTokens(absl::string_view field, int64_t tokens,
                               const ServiceLimits& limits) {
  if (tokens <= limits.max_prompt_tokens) return absl::OkStatus();
  return Invalid(field, absl::StrCat(tokens, " tokens exceed the server "
                                     "limit of ", limits.max_prompt_tokens,
                                     " (--max_prompt_tokens)"));
}

absl::StatusOr<std::vector<int64_t>> EncodeText(absl::string_view field,
                                                const std::string& text,
                                                const ServedModel& model,
                                                const ServiceLimits& limits) {
  if (text.empty()) return Invalid(field, "must not be empty");
  TINYLM_RETURN_IF_ERROR(CheckText(field, text, limits.max_prompt_bytes));
  TINYLM_RETURN_IF_ERROR(CheckTextFits(field, text, model, limits));
  TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                          model.tokenizer->Encode(text));
  if (ids.empty()) return Invalid(field, "encodes to no tokens");
  TINYLM_RETURN_IF_ERROR(CheckPromptTokens(field, ids.size(), limits));
  return ids;
}

absl::Status CheckIds(absl::string_view field,
                      const google::protobuf::RepeatedField<int32_t>& ids,
                      const ServedModel& model) {
  const int64_t vocab = model.config.vocab_size;
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return Invalid(absl::StrCat(field, "[", i, "]"),
                     absl::StrCat("id ", ids[i], " is outside the vocabulary "
                                  "[0, ", vocab, ") of model ",
                                  Quote(model.name)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> IdList(
    absl::string_view field,
    const google::protobuf::RepeatedField<int32_t>& ids,
    const ServedModel& model, const ServiceLimits& limits) {
  if (ids.empty()) return Invalid(field, "must not be empty");
  TINYLM_RETURN_IF_ERROR(CheckPromptTokens(field, ids.size(), limits));
  TINYLM_RETURN_IF_ERROR(CheckIds(absl::StrCat(field, ".ids"), ids, model));
  return std::vector<int64_t>(ids.begin(), ids.end());
}

absl::Status CheckPromptFits(int64_t prompt, int64_t min_new,
                             const ServedModel& model) {
  const int64_t context = model.config.block_size;
  if (prompt + min_new <= context) return absl::OkStatus();
  return Invalid("prompt",
                 absl::StrCat(prompt, " tokens do not fit the context length ",
                              context, " of model ", Quote(model.name),
                              min_new > 0 ? " with room to generate" : ""));
}

absl::StatusOr<int64_t> NewTokens(absl::string_view field, int64_t requested,
                                  int64_t default_cap, int64_t prompt,
                                  const ServedModel& model,
                                  const ServiceLimits& limits) {
  const int64_t room = model.config.block_size - prompt;
  if (requested == 0) return std::min(default_cap, room);
  if (requested > limits.max_new_tokens) {
    return Invalid(field, absl::StrCat(requested,
                                       " exceeds the server limit of ",
                                       limits.max_new_tokens));
  }
  if (requested > room) {
    return Invalid(field,
                   absl::StrCat(prompt, " prompt tokens + ", requested,
                                " new tokens exceed the context length ",
                                model.config.block_size, " of model ",
                                Quote(model.name)));
  }
  return requested;
}

uint64_t RandomSeed() {
  std::random_device device;
  return (uint64_t(device()) << 32) ^ device();
}

absl::StatusOr<SamplingParams> ToSampling(const v1::SamplingParams& in,
                                          int64_t vocab, bool greedy_default) {
  SamplingParams out;
  out.temperature = in.has_temperature() ? in.temperature()
                                         : (greedy_default ? 0.0 : 1.0);
  if (!(out.temperature >= 0.0 && out.temperature <= 100.0)) {
    return Invalid("sampling.temperature",
                   absl::StrCat("must be in [0, 100], got ", out.temperature));
  }
  if (out.temperature < kGreedyBelowTemperature) out.temperature = 0.0;
  out.top_k = in.top_k();
  if (out.top_k > vocab) {
    return Invalid("sampling.top_k",
                   absl::StrCat(out.top_k, " exceeds the vocabulary size ",
                                vocab));
  }
  out.top_p = in.has_top_p() ? in.top_p() : 1.0;
  if (!(out.top_p > 0.0 && out.top_p <= 1.0)) {
    return Invalid("sampling.top_p",
                   absl::StrCat("must be in (0, 1], got ", out.top_p));
  }
  out.min_p = in.min_p();
  if (!(out.min_p >= 0.0 && out.min_p < 1.0)) {
    return Invalid("sampling.min_p",
                   absl::StrCat("must be in [0, 1), got ", out.min_p));
  }
  out.repetition_penalty =
      in.has_repetition_penalty() ? in.repetition_penalty() : 1.0;
  if (!(out.repetition_penalty >= kMinRepetitionPenalty &&
        out.repetition_penalty <= 10.0)) {
    return Invalid("sampling.repetition_penalty",
                   absl::StrCat("must be in [", kMinRepetitionPenalty,
                                ", 10], got ", out.repetition_penalty));
  }
  out.seed = in.has_seed() ? in.seed() : RandomSeed();
  return out;
}

absl::StatusOr<std::vector<int64_t>> Indices(
    absl::string_view field, const google::protobuf::RepeatedField<uint32_t>& in,
    int64_t count, absl::string_view what, const ServedModel& model) {
  std::vector<int64_t> out;
  for (int i = 0; i < in.size(); ++i) {
    if (in[i] >= count) {
      return Invalid(absl::StrCat(field, "[", i, "]"),
                     absl::StrCat(what, " ", in[i], " does not exist (model ",
                                  Quote(model.name), " has ", count, " ", what,
                                  "s)"));
    }
    out.push_back(in[i]);
  }
  if (out.empty()) {
    for (int64_t i = 0; i < count; ++i) out.push_back(i);
  }
  return out;
}

absl::StatusOr<std::vector<ServedModel*>> ModelsOf(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const ModelRegistry& registry) {
  std::vector<ServedModel*> models;
  for (int i = 0; i < names.size(); ++i) {
    const std::string field = absl::StrCat("models[", i, "]");
    TINYLM_ASSIGN_OR_RETURN(ServedModel * model,
                            FindModel(registry, names[i], field));
    if (std::find(models.begin(), models.end(), model) != models.end()) {
      return Invalid(field,
                     absl::StrCat(Quote(model->name), " is listed twice"));
    }
    models.push_back(model);
  }
  if (models.empty()) {
    for (const auto& model : registry.models()) models.push_back(model.get());
  }
  return models;
}

}  // namespace tinylm
