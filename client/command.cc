#include "client/command.h"

#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tinylm {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;

}  // namespace

CallSettings CommandContext::Settings(absl::Duration fallback) const {
  return {options.server, options.timeout.value_or(fallback)};
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"generate", RunGenerate},   {"topk", RunTopK},
      {"attention", RunAttention}, {"compare", RunCompare},
      {"lens", RunLens},           {"score", RunScore},
      {"stats", RunStats},
      {"tokenize", RunTokenize},   {"models", RunModels},
      {"health", RunHealth},
  };
  return kCommands;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const CliOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  return MakeClientChannel(options.server, options.security, arguments);
}

absl::StatusOr<std::string> PromptText(const CommandContext& context,
                                       const char* what) {
  const std::vector<std::string>& args = context.args;
  if (args.size() == 1 && args[0] == "-") {
    std::string text(std::istreambuf_iterator<char>(std::cin), {});
    // A trailing newline from `echo` or an editor is not part of it.
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  if (args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing ", what, " (see tinylm --help)"));
  }
  return absl::StrJoin(args, " ");
}

absl::StatusOr<std::vector<v1::ModelInfo>> ListModels(CommandContext& context) {
  absl::StatusOr<v1::ListModelsResponse> response =
      Call(context.Settings(), *context.stub, &v1::TinyLM::Stub::ListModels,
           v1::ListModelsRequest());
  if (!response.ok()) return response.status();
  return std::vector<v1::ModelInfo>(response->models().begin(),
                                    response->models().end());
}

absl::StatusOr<std::string> ResolveModel(CommandContext& context) {
  if (!context.options.model.empty()) return context.options.model;
  absl::StatusOr<std::vector<v1::ModelInfo>> models = ListModels(context);
  if (!models.ok()) return models.status();
  if (models->size() == 1) return models->front().name();
  std::vector<std::string> names;
  for (const v1::ModelInfo& info : *models) names.push_back(info.name());
  return absl::InvalidArgumentError(
      absl::StrCat("which model? give --model=NAME (the server has: ",
                   names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
}

void FillSampling(const SamplingOptions& in, v1::SamplingParams* out) {
  if (in.temperature) out->set_temperature(*in.temperature);
  out->set_top_k(in.top_k);
  if (in.top_p) out->set_top_p(*in.top_p);
  out->set_min_p(in.min_p);
  if (in.repetition_penalty) {
    out->set_repetition_penalty(*in.repetition_penalty);
  }
  if (in.seed) out->set_seed(*in.seed);
}

}  // namespace tinylm
