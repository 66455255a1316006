// The command line of tinylm-train: `tinylm-train COMMAND [--flag=value]...`.
//
// The flags are abseil flags (defined in main.cc), but abseil's own parser
// does not run: it would accept every flag for every command, and its
// --help lists flags by source file. Here each command names the flags it
// reads; only those are accepted with it, its --help lists them with their
// defaults, and a mistyped command or flag gets a "did you mean". Values are
// still parsed by abseil (CommandLineFlag::ParseFrom), so each flag's type,
// default and help text live only in its ABSL_FLAG definition.
//
// Accepted spellings: --name=value, --name value (not for bools), --name and
// --noname (bools), and the same with a single dash.
#ifndef TINYLM_TRAIN_COMMAND_LINE_H_
#define TINYLM_TRAIN_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tinylm {

struct CommandSpec {
  std::string name;                   // e.g. "train"
  std::string summary;                // one line, for the program's help
  std::vector<std::string> required;  // flags it cannot run without
  std::vector<std::string> flags;     // every flag it reads, in help order
};

struct ParsedCommandLine {
  enum class Action { kRun, kHelp, kVersion, kUsageError };
  Action action = Action::kUsageError;
  // kRun: the command to run. kHelp: the command whose flags to list, or
  // null for the program's help. kUsageError: the command the error is
  // about, or null when the command itself is missing or unknown.
  const CommandSpec* command = nullptr;
  std::string error;  // kUsageError: what is wrong, in one line
};

// Parses `argv` against `commands`; on kRun the flags given are set and
// the required ones are not empty. --help (or `help [COMMAND]`) and
// --version win over everything else.
ParsedCommandLine ParseCommandLine(const std::vector<CommandSpec>& commands,
                                   int argc, char** argv);

// The program's help: usage and one line per command.
std::string ProgramHelp(absl::string_view program,
                        const std::vector<CommandSpec>& commands);
// One command's help: usage (with the required flags), summary, and each
// of its flags with its default and help text.
std::string CommandHelp(absl::string_view program, const CommandSpec& command);

// The candidate closest to `word` when it is close enough to be a typo
// (a few edits, fewer for short words), else "".
std::string ClosestMatch(absl::string_view word,
                         const std::vector<std::string>& candidates);

// InvalidArgument naming --flag, the value and the choices (and the closest
// one) unless `value` is one of `choices`.
absl::Status CheckFlagChoice(absl::string_view flag, absl::string_view value,
                             const std::vector<std::string>& choices);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_COMMAND_LINE_H_
