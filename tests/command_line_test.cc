// Reading tinylm's command line: flags set through abseil's registry,
// positional arguments kept in order, --help and --version, and the
// mistakes a person makes, worded with a suggestion.
#include "client/command_line.h"

#include "absl/flags/reflection.h"
#include "client/cli_options.h"
#include "client/help.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CommandLineTest : public ::testing::Test {
 protected:
  absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "tinylm");
    return ParseArguments(args);
  }

 private:
  absl::FlagSaver saver_;  // every test starts from the defaults
};

TEST_F(CommandLineTest, SetsFlagsAndKeepsThePositionalArguments) {
  absl::StatusOr<CommandLine> line =
      Parse({"--server=h:1", "--json", "generate", "--top_k", "3",
             "-temperature=0.5", "--noecho", "a", "-", "--", "--not-a-flag"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->action, CommandLine::Action::kRun);
  EXPECT_THAT(line->positional,
              ElementsAre("generate", "a", "-", "--not-a-flag"));
  absl::StatusOr<CliOptions> options = OptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server, "h:1");
  EXPECT_TRUE(options->json);
  EXPECT_EQ(options->sampling.top_k, 3u);
  EXPECT_EQ(options->sampling.temperature, 0.5f);
  EXPECT_FALSE(options->echo);
}

TEST_F(CommandLineTest, AServerWithoutAPortGetsTheServersDefault) {
  ASSERT_TRUE(Parse({"--server=localhost", "health"}).ok());
  EXPECT_EQ(OptionsFromFlags()->server, "localhost:50051");
  ASSERT_TRUE(Parse({"--server=[::1]", "health"}).ok());
  EXPECT_EQ(OptionsFromFlags()->server, "[::1]:50051");
  ASSERT_TRUE(Parse({"--server=unix:/run/tinylm.sock", "health"}).ok());
  EXPECT_EQ(OptionsFromFlags()->server, "unix:/run/tinylm.sock");
}

TEST_F(CommandLineTest, HelpAndVersionWinOverTheRestOfTheLine) {
  for (const char* help : {"--help", "-h", "--helpfull", "-help"}) {
    absl::StatusOr<CommandLine> line = Parse({"--bogus", "topk", help});
    ASSERT_TRUE(line.ok()) << help << ": " << line.status();
    EXPECT_EQ(line->action, CommandLine::Action::kHelp) << help;
  }
  EXPECT_EQ(Parse({"--version"})->action, CommandLine::Action::kVersion);
  EXPECT_EQ(Parse({"--version", "--help"})->action, CommandLine::Action::kHelp);
  // After "--" they are a prompt.
  EXPECT_EQ(Parse({"topk", "--", "--help"})->action, CommandLine::Action::kRun);
}

TEST_F(CommandLineTest, AMistypedFlagNamesTheFlagItMayHaveMeant) {
  const absl::Status near = Parse({"--servr=h:1", "health"}).status();
  EXPECT_EQ(near.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(near.message(),
              HasSubstr("unknown flag --servr (did you mean --server?)"));
  EXPECT_THAT(Parse({"--temprature", "1", "topk"}).status().message(),
              HasSubstr("did you mean --temperature?"));
  const absl::Status far = Parse({"--frobnicate"}).status();
  EXPECT_EQ(far.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(far.message(), HasSubstr("unknown flag --frobnicate"));
  EXPECT_THAT(far.message(), ::testing::Not(HasSubstr("did you mean")));
  // "no" makes sense for on/off flags only.
  EXPECT_THAT(Parse({"--nomodel"}).status().message(),
              HasSubstr("unknown flag --nomodel"));
}

TEST_F(CommandLineTest, BadOrMissingValuesAreInvalidArguments) {
  const absl::Status bad = Parse({"--width=wide", "models"}).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("--width=wide: "));
  EXPECT_THAT(Parse({"--json=maybe"}).status().message(),
              HasSubstr("--json=maybe: "));
  EXPECT_THAT(Parse({"topk", "--model"}).status().message(),
              HasSubstr("--model needs a value"));
}

TEST(HelpTest, ListsEveryFlagAndTheExitCodes) {
  const std::string help = HelpText();
  const std::vector<absl::CommandLineFlag*> flags = ClientFlags();
  EXPECT_GT(flags.size(), 25u);
  for (const absl::CommandLineFlag* flag : flags) {
    EXPECT_THAT(help, HasSubstr("\n  --" + std::string(flag->Name())));
  }
  EXPECT_THAT(help, HasSubstr("--server (default: 127.0.0.1:50051)"));
  for (const char* text : {"Subcommands:", "generate PROMPT", "Exit codes:",
                           "  2    invalid argument", "  130  cancelled"}) {
    EXPECT_THAT(help, HasSubstr(text));
  }
}

TEST(HelpTest, VersionNamesTheProjectVersionAndCommit) {
  EXPECT_THAT(
      VersionText(),
      ::testing::MatchesRegex(
          R"(tinylm [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]+|unknown)\))"));
}

}  // namespace
}  // namespace tinylm
