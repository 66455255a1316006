// The subcommands of tinylm and what they share: the options, the channel
// to the server and how calls on it run, the prompt and the model.
#ifndef TINYLM_CLIENT_COMMAND_H_
#define TINYLM_CLIENT_COMMAND_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli_options.h"
#include "client/rpc/call.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

// Deadline of a call when --timeout does not say.
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(60);

struct CommandContext {
  CliOptions options;
  std::vector<std::string> args;  // positional arguments after the name
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::TinyLM::Stub> stub;

  // How this command's calls run (rpc/call.h): to --server, with the
  // deadline --timeout, else `fallback`.
  CallSettings Settings(absl::Duration fallback = kDefaultTimeout) const;
};

// Each returns OK or the error to report; it prints its results itself.
using CommandFn = absl::Status (*)(CommandContext& context);

struct Command {
  const char* name;
  CommandFn run;
};

// Every subcommand, in the order --help lists them.
const std::vector<Command>& Commands();

absl::Status RunGenerate(CommandContext& context);
absl::Status RunTopK(CommandContext& context);
absl::Status RunAttention(CommandContext& context);
absl::Status RunCompare(CommandContext& context);
absl::Status RunLens(CommandContext& context);
absl::Status RunScore(CommandContext& context);
absl::Status RunStats(CommandContext& context);
absl::Status RunTokenize(CommandContext& context);
absl::Status RunModels(CommandContext& context);
absl::Status RunHealth(CommandContext& context);

// A channel to --server, secured as the --tls* and --auth_token_file flags
// say, that accepts large answers (attention matrices can pass gRPC's 4 MiB
// default when the server allows it).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const CliOptions& options);

// The prompt text: the positional arguments joined by spaces, stdin for
// "-"; INVALID_ARGUMENT when there is none (`what` names the argument).
absl::StatusOr<std::string> PromptText(const CommandContext& context,
                                       const char* what = "PROMPT");

// --model, or the server's only model; INVALID_ARGUMENT listing the models
// when the choice is not clear.
absl::StatusOr<std::string> ResolveModel(CommandContext& context);

// The loaded models (ListModels).
absl::StatusOr<std::vector<v1::ModelInfo>> ListModels(CommandContext& context);

// Fills a request's prompt oneof: --ids when given, else the prompt text.
template <typename Request>
absl::Status SetPrompt(const CommandContext& context, Request* request) {
  if (!context.options.ids.empty()) {
    if (!context.args.empty()) {
      return absl::InvalidArgumentError(
          "give the prompt either as text or with --ids, not both");
    }
    for (int32_t id : context.options.ids) {
      request->mutable_token_ids()->add_ids(id);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = PromptText(context);
  if (!text.ok()) return text.status();
  request->set_text(*text);
  return absl::OkStatus();
}

// SamplingOptions as the API's message.
void FillSampling(const SamplingOptions& in, v1::SamplingParams* out);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_COMMAND_H_
