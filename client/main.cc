// tinylm: the command-line client of tinylm-server (subcommands in
// commands/, flags in cli_flags.cc, their parsing in command_line.cc, exit
// codes in exit_codes.h).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command.h"
#include "client/command_line.h"
#include "client/exit_codes.h"
#include "client/help.h"
#include "client/text/spelling.h"

namespace tinylm {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "tinylm: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

absl::Status UnknownCommand(const std::string& name) {
  std::vector<std::string> names;
  for (const Command& command : Commands()) names.push_back(command.name);
  const std::optional<std::string> near = ClosestName(name, names);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"", name, "\"",
                   near ? absl::StrCat(" (did you mean ", *near, "?)") : "",
                   "; the subcommands are ", absl::StrJoin(names, ", "),
                   " (see tinylm --help)"));
}

int Run(const std::vector<std::string>& positional) {
  absl::StatusOr<CliOptions> options = OptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  if (positional.empty()) {
    return Fail(
        absl::InvalidArgumentError("missing SUBCOMMAND (see tinylm --help)"));
  }
  for (const Command& command : Commands()) {
    if (positional[0] != command.name) continue;
    CommandContext context;
    context.options = *std::move(options);
    context.args.assign(positional.begin() + 1, positional.end());
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeChannel(context.options);
    if (!channel.ok()) return Fail(channel.status());
    context.channel = *std::move(channel);
    context.stub = v1::TinyLM::NewStub(context.channel);
    const absl::Status status = command.run(context);
    return status.ok() ? kExitOk : Fail(status);
  }
  return Fail(UnknownCommand(positional[0]));
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) {
  absl::StatusOr<tinylm::CommandLine> line =
      tinylm::ParseArguments(std::vector<std::string>(argv, argv + argc));
  if (!line.ok()) return tinylm::Fail(line.status());
  switch (line->action) {
    case tinylm::CommandLine::Action::kHelp:
      std::cout << tinylm::HelpText();
      return tinylm::kExitOk;
    case tinylm::CommandLine::Action::kVersion:
      std::cout << tinylm::VersionText() << std::endl;
      return tinylm::kExitOk;
    case tinylm::CommandLine::Action::kRun:
      break;
  }
  return tinylm::Run(line->positional);
}
