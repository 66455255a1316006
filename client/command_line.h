// The command line of tinylm: its flags (defined in cli_flags.cc, set
// through abseil's flag registry) and what is left, the subcommand and its
// arguments.
//
// tinylm reads the line itself rather than with absl::ParseCommandLine,
// which in the abseil of Debian 12 (20220623) exits 1 for --help and for
// a mistyped flag, where tinylm promises 0 and 2, and answers --version
// with the build mode. The spelling is abseil's all the same:
// --name=value, --name value, --bool, --nobool, one dash or two, and "--"
// ends the flags.
#ifndef TINYLM_CLIENT_COMMAND_LINE_H_
#define TINYLM_CLIENT_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/status/statusor.h"

namespace tinylm {

struct CommandLine {
  enum class Action { kRun, kHelp, kVersion };
  // kHelp for --help (or -h, --helpfull), kVersion for --version, wherever
  // they stand before "--": they win over the rest of the line.
  Action action = Action::kRun;
  std::vector<std::string> positional;  // SUBCOMMAND [ARGS...]
};

// Sets the flags that `args` (args[0] is the program) give and returns the
// rest. INVALID_ARGUMENT naming the flag when one is unknown (with "did
// you mean --x?" when a flag's name is close), lacks its value, or has a
// value that does not parse.
absl::StatusOr<CommandLine> ParseArguments(
    const std::vector<std::string>& args);

// tinylm's flags (those of cli_flags.cc), sorted by name.
std::vector<absl::CommandLineFlag*> ClientFlags();

}  // namespace tinylm

#endif  // TINYLM_CLIENT_COMMAND_LINE_H_
