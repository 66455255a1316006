#include "client/command_line.h"

#include <algorithm>
#include <optional>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/text/spelling.h"

namespace tinylm {
namespace {

bool IsHelp(absl::string_view name) {
  return name == "help" || name == "h" || name == "helpfull";
}

// A flag argument split into its name (dashes gone) and value.
struct FlagArgument {
  std::string name;
  std::optional<std::string> value;  // what follows '=', if anything
};

// nullopt for a positional argument ("-" alone is one: stdin).
std::optional<FlagArgument> SplitFlag(absl::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return std::nullopt;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  FlagArgument flag;
  const size_t equals = arg.find('=');
  flag.name = std::string(arg.substr(0, equals));
  if (equals != absl::string_view::npos) {
    flag.value = std::string(arg.substr(equals + 1));
  }
  return flag;
}

bool IsClientFlag(const absl::CommandLineFlag& flag) {
  return absl::EndsWith(flag.Filename(), "client/cli_flags.cc");
}

absl::CommandLineFlag* FindClientFlag(absl::string_view name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && IsClientFlag(*flag) ? flag : nullptr;
}

absl::Status UnknownFlag(absl::string_view name) {
  std::vector<std::string> names = {"help", "version"};
  for (const absl::CommandLineFlag* flag : ClientFlags()) {
    names.emplace_back(flag->Name());
  }
  const std::optional<std::string> near = ClosestName(name, names);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown flag --", name,
                   near ? absl::StrCat(" (did you mean --", *near, "?)") : "",
                   "; see tinylm --help"));
}

// Sets the flag of args[*i], taking its value from the next argument when
// it needs one and has none (then *i moves past it).
absl::Status SetFlag(const std::vector<std::string>& args, size_t* i,
                     FlagArgument arg) {
  absl::CommandLineFlag* flag = FindClientFlag(arg.name);
  if (flag == nullptr && !arg.value && absl::StartsWith(arg.name, "no")) {
    flag = FindClientFlag(arg.name.substr(2));
    if (flag != nullptr && !flag->IsOfType<bool>()) flag = nullptr;
    if (flag != nullptr) arg = {arg.name.substr(2), "false"};
  }
  if (flag == nullptr) return UnknownFlag(arg.name);
  if (!arg.value && flag->IsOfType<bool>()) arg.value = "true";
  if (!arg.value) {
    if (*i + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", arg.name, " needs a value (--", arg.name, "=VALUE)"));
    }
    arg.value = args[++*i];
  }
  std::string error;
  if (!flag->ParseFrom(*arg.value, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", arg.name, "=", *arg.value, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<absl::CommandLineFlag*> ClientFlags() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsClientFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const absl::CommandLineFlag* a, const absl::CommandLineFlag* b) {
              return a->Name() < b->Name();
            });
  return flags;
}

absl::StatusOr<CommandLine> ParseArguments(
    const std::vector<std::string>& args) {
  CommandLine line;
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    const std::optional<FlagArgument> flag = SplitFlag(args[i]);
    if (flag && IsHelp(flag->name)) line.action = CommandLine::Action::kHelp;
    if (flag && flag->name == "version" &&
        line.action == CommandLine::Action::kRun) {
      line.action = CommandLine::Action::kVersion;
    }
  }
  if (line.action != CommandLine::Action::kRun) return line;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") {
      line.positional.insert(line.positional.end(), args.begin() + i + 1,
                             args.end());
      break;
    }
    std::optional<FlagArgument> flag = SplitFlag(args[i]);
    if (!flag) {
      line.positional.push_back(args[i]);
      continue;
    }
    if (absl::Status s = SetFlag(args, &i, *std::move(flag)); !s.ok()) {
      return s;
    }
  }
  return line;
}

}  // namespace tinylm
