// tinylm: the command-line client of tinylm-server (subcommands in
// commands/, flags in cli_flags.cc, exit codes in exit_codes.h).
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "client/command.h"
#include "client/exit_codes.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(tinylm::UsageText());
  absl::FlagsUsageConfig usage;
  // --help lists the flags of client/ (absl's default: only main files').
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "client/");
  };
  // Named from the source tree's root, not the build machine's path.
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.rfind("client/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);

  absl::StatusOr<tinylm::CliOptions> options = tinylm::OptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "tinylm: " << options.status().message() << "\n";
    return tinylm::kExitInvalidArgument;
  }
  if (positional.size() < 2) {
    std::cerr << "tinylm: missing SUBCOMMAND (see tinylm --help)\n";
    return tinylm::kExitInvalidArgument;
  }
  const std::string name = positional[1];
  for (const tinylm::Command& command : tinylm::Commands()) {
    if (name != command.name) continue;
    tinylm::CommandContext context;
    context.options = *options;
    context.args.assign(positional.begin() + 2, positional.end());
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        tinylm::MakeChannel(context.options);
    if (!channel.ok()) {
      std::cerr << "tinylm: " << channel.status().message() << "\n";
      return tinylm::kExitInvalidArgument;
    }
    context.channel = *std::move(channel);
    context.stub = tinylm::v1::TinyLM::NewStub(context.channel);
    const absl::Status status = command.run(context);
    if (status.ok()) return tinylm::kExitOk;
    std::cerr << "tinylm: " << status.message() << std::endl;
    return tinylm::ExitCodeFor(status);
  }
  std::cerr << "tinylm: unknown subcommand \"" << name
            << "\" (generate, topk, attention, compare, tokenize, models, "
               "health; see tinylm --help)\n";
  return tinylm::kExitInvalidArgument;
}
