#include "train/command_line.h"

#include <algorithm>
#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/quote.h"

namespace tinylm {
namespace {

using Action = ParsedCommandLine::Action;

// One `--name[=value]` argument.
struct FlagArg {
  std::string name;
  std::optional<std::string> value;  // absent: a bare --name
  std::string text;                  // dashes and name as typed
};

// The arguments split into flags and the rest.
struct Arguments {
  std::vector<FlagArg> flags;
  std::vector<std::string> positional;
  bool help = false, version = false;
};

bool IsBoolFlag(absl::string_view name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && flag->IsOfType<bool>();
}

Arguments Split(int argc, char** argv) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      args.positional.emplace_back(arg);
      continue;
    }
    absl::string_view body = arg.substr(absl::StartsWith(arg, "--") ? 2 : 1);
    if (body == "help" || body == "h") {
      args.help = true;
      continue;
    }
    if (body == "version") {
      args.version = true;
      continue;
    }
    FlagArg flag;
    const size_t equals = body.find('=');
    flag.name = std::string(body.substr(0, equals));
    flag.text =
        absl::StrCat(arg.substr(0, arg.size() - body.size()), flag.name);
    if (equals != absl::string_view::npos) {
      flag.value = std::string(body.substr(equals + 1));
    } else if (!IsBoolFlag(flag.name) && i + 1 < argc &&
               absl::FindCommandLineFlag(flag.name) != nullptr) {
      // `--out DIR`: the next argument is the value.
      flag.value = argv[++i];
    }
    args.flags.push_back(std::move(flag));
  }
  return args;
}

const CommandSpec* Find(const std::vector<CommandSpec>& commands,
                        absl::string_view name) {
  for (const CommandSpec& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool Reads(const CommandSpec& command, absl::string_view flag) {
  return std::find(command.flags.begin(), command.flags.end(), flag) !=
         command.flags.end();
}

std::string DidYouMean(absl::string_view word,
                       const std::vector<std::string>& candidates,
                       absl::string_view prefix) {
  const std::string match = ClosestMatch(word, candidates);
  return match.empty() ? ""
                       : absl::StrCat("; did you mean ", prefix, match, "?");
}

ParsedCommandLine UsageError(std::string error,
                             const CommandSpec* command = nullptr) {
  ParsedCommandLine parsed;
  parsed.error = std::move(error);
  parsed.command = command;
  return parsed;
}

ParsedCommandLine UnknownCommand(const std::vector<CommandSpec>& commands,
                                 absl::string_view name) {
  std::vector<std::string> names;
  for (const CommandSpec& c : commands) names.push_back(c.name);
  return UsageError(absl::StrCat("unknown command ", Quote(name),
                                 DidYouMean(name, names, "")));
}

// Checks that `command` reads `arg` and sets the flag; an error otherwise.
std::optional<std::string> Apply(const std::vector<CommandSpec>& commands,
                                 const CommandSpec& command,
                                 const FlagArg& arg) {
  std::string name = arg.name;
  std::string value = arg.value.value_or("");
  if (!arg.value.has_value()) {
    // --resume, --noresume.
    if (IsBoolFlag(name)) {
      value = "true";
    } else if (absl::StartsWith(name, "no") && IsBoolFlag(name.substr(2))) {
      name = name.substr(2);
      value = "false";
    }
  }
  if (!Reads(command, name)) {
    std::vector<std::string> users;
    for (const CommandSpec& c : commands) {
      if (Reads(c, name)) users.push_back(c.name);
    }
    if (!users.empty()) {
      return absl::StrCat("--", name, " is not a flag of `", command.name,
                          "` but of ", absl::StrJoin(users, ", "));
    }
    std::vector<std::string> candidates = command.flags;
    candidates.insert(candidates.end(), {"help", "version"});
    return absl::StrCat("unknown flag ", Quote(arg.text), " for `",
                        command.name, "`", DidYouMean(name, candidates, "--"));
  }
  if (!arg.value.has_value() && !IsBoolFlag(name)) {
    return absl::StrCat("--", name, " needs a value (--", name, "=...)");
  }
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  std::string error;  // abseil's, which repeats the value unquoted
  if (!flag->ParseFrom(value, &error)) {
    return absl::StrCat("--", name, "=", Quote(value), " is not a valid value",
                        " (default: ", flag->DefaultValue(), ")");
  }
  return std::nullopt;
}

// Levenshtein distance with transpositions (optimal string alignment).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

ParsedCommandLine ParseCommandLine(const std::vector<CommandSpec>& commands,
                                   int argc, char** argv) {
  Arguments args = Split(argc, argv);
  // `help train` is `train --help`.
  if (!args.positional.empty() && args.positional.front() == "help") {
    args.help = true;
    args.positional.erase(args.positional.begin());
  }
  const CommandSpec* command = nullptr;
  if (!args.positional.empty()) {
    command = Find(commands, args.positional.front());
    if (command == nullptr) {
      return UnknownCommand(commands, args.positional.front());
    }
  }
  ParsedCommandLine parsed;
  parsed.command = command;
  if (args.help) {
    parsed.action = Action::kHelp;
    return parsed;
  }
  if (args.version) {
    parsed.action = Action::kVersion;
    return parsed;
  }
  if (command == nullptr) return UsageError("no command given");
  for (const FlagArg& arg : args.flags) {
    std::optional<std::string> error = Apply(commands, *command, arg);
    if (error.has_value()) return UsageError(*std::move(error), command);
  }
  if (args.positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument ", Quote(args.positional[1]),
                     " after `", command->name, "`"),
        command);
  }
  for (const std::string& name : command->required) {
    if (absl::FindCommandLineFlag(name)->CurrentValue().empty()) {
      return UsageError(absl::StrCat("`", command->name, "` needs --", name),
                        command);
    }
  }
  parsed.action = Action::kRun;
  return parsed;
}

std::string ProgramHelp(absl::string_view program,
                        const std::vector<CommandSpec>& commands) {
  std::string help =
      absl::StrCat("usage: ", program, " COMMAND [--flags]\n\n", "commands:\n");
  for (const CommandSpec& c : commands) {
    absl::StrAppendFormat(&help, "  %-10s %s\n", c.name, c.summary);
  }
  absl::StrAppend(&help, "\n`", program,
                  " COMMAND --help` lists the flags of a command.\n`", program,
                  " --version` prints the version.\n",
                  "Exit status: 0 done, 1 the command failed, 2 a usage "
                  "error\n(unknown command or flag, bad flag value).\n");
  return help;
}

std::string CommandHelp(absl::string_view program, const CommandSpec& command) {
  std::string help = absl::StrCat("usage: ", program, " ", command.name);
  for (const std::string& name : command.required) {
    absl::StrAppend(&help, " --", name, "=...");
  }
  absl::StrAppend(&help, " [--flags]\n\n", command.summary,
                  "\n\nflags, with their defaults:\n");
  for (const std::string& name : command.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    const std::string def = flag->DefaultValue();
    const std::string left =
        absl::StrCat("--", name, def.empty() ? "" : "=", def);
    // Long defaults push the help text to a line of its own.
    absl::StrAppendFormat(
        &help, "  %-24s%s%s\n", left,
        left.size() >= 24 ? "\n                          " : "", flag->Help());
  }
  return help;
}

std::string ClosestMatch(absl::string_view word,
                         const std::vector<std::string>& candidates) {
  // One edit in four letters, at least one and at most three.
  const size_t limit = std::clamp<size_t>(word.size() / 4, 1, 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    // The distance is at least the difference in length; this also keeps
    // a huge argument from costing a huge table.
    const size_t length_difference = word.size() > c.size()
                                         ? word.size() - c.size()
                                         : c.size() - word.size();
    if (length_difference > limit) continue;
    const size_t distance = EditDistance(word, c);
    if (distance < best_distance) {
      best = c;
      best_distance = distance;
    }
  }
  return best;
}

absl::Status CheckFlagChoice(absl::string_view flag, absl::string_view value,
                             const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, "=", Quote(value), " is not one of ",
      absl::StrJoin(choices, ", "), DidYouMean(value, choices, "")));
}

}  // namespace tinylm
