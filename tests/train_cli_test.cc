// The tinylm-train program as a user runs it: help and version exit 0,
// usage errors exit 2 with a one-line message (a "did you mean" for a typo)
// before anything is read or written, and sentencepiece's log stays out of
// the way of its error.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client_process.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCorpus =
    std::string(TINYLM_TEST_DATA_DIR) + "/corpus-sample.txt";

ProcessResult Train(std::vector<std::string> args) {
  args.insert(args.begin(), TINYLM_TRAIN_BINARY);
  absl::StatusOr<ProcessResult> result = RunProcess(args);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ProcessResult();
}

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("tinylm_train_cli_test_" + std::to_string(getpid())))
               .string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A train command line whose inputs need not exist: the error under test
  // must come first.
  std::vector<std::string> TrainArgs(std::vector<std::string> more) const {
    std::vector<std::string> args = {"train", "--data=" + dir_ + "/data",
                                     "--tokenizer=" + dir_ + "/tok.model",
                                     "--out=" + dir_ + "/run"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  std::string dir_;
};

TEST_F(TrainCliTest, HelpListsTheCommands) {
  for (const char* help : {"--help", "help", "-h"}) {
    const ProcessResult r = Train({help});
    EXPECT_EQ(r.exit_code, 0) << help << r.err;
    for (const char* command :
         {"tokenizer", "prepare", "train", "study", "plot", "export-hf"}) {
      EXPECT_THAT(r.out, HasSubstr(std::string("  ") + command + " ")) << help;
    }
  }
}

TEST_F(TrainCliTest, CommandHelpListsOnlyItsFlagsWithDefaults) {
  const ProcessResult train = Train({"train", "--help"});
  EXPECT_EQ(train.exit_code, 0) << train.err;
  EXPECT_THAT(
      train.out,
      AllOf(HasSubstr("--data=..."), HasSubstr("--max_steps=1000"),
            HasSubstr("--warmup_steps=100"), HasSubstr("--overwrite"),
            HasSubstr("--device=auto"), HasSubstr("cuda:N"),
            Not(HasSubstr("--vocab_size")), Not(HasSubstr("--val_every")),
            Not(HasSubstr("--variants"))));
  const ProcessResult prepare = Train({"help", "prepare"});
  EXPECT_EQ(prepare.exit_code, 0) << prepare.err;
  EXPECT_THAT(prepare.out, AllOf(HasSubstr("--val_every=100"),
                                 Not(HasSubstr("--max_steps"))));
}

TEST_F(TrainCliTest, VersionNamesTheVersionAndCommit) {
  const ProcessResult r = Train({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("tinylm-train ") + TINYLM_VERSION + " (commit " +
                       TINYLM_COMMIT + ")\n");
}

TEST_F(TrainCliTest, UnknownCommandSuggestsTheClosest) {
  const ProcessResult r = Train({"trian", "--out=x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("unknown command \"trian\"; did you mean train?"));
  EXPECT_EQ(Train({}).exit_code, 2);
}

TEST_F(TrainCliTest, MistypedFlagSuggestsTheClosest) {
  const ProcessResult typo = Train(TrainArgs({"--max_step=10"}));
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("unknown flag \"--max_step\" for `train`; "
                                  "did you mean --max_steps?"));
  // A flag of another command is refused, not silently ignored.
  const ProcessResult other = Train(TrainArgs({"--vocab_size=100"}));
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_THAT(other.err, HasSubstr("--vocab_size is not a flag of `train`"));
  const ProcessResult value = Train(TrainArgs({"--max_steps=ten"}));
  EXPECT_EQ(value.exit_code, 2);
  EXPECT_THAT(value.err, HasSubstr("--max_steps=\"ten\" is not a valid"));
  const ProcessResult missing = Train({"train", "--data=x", "--out=y"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("`train` needs --tokenizer"));
}

TEST_F(TrainCliTest, WarmupThatDoesNotEndBeforeMaxStepsIsRefused) {
  const ProcessResult r =
      Train(TrainArgs({"--max_steps=50", "--warmup_steps=50"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("--warmup_steps=50"),
                           HasSubstr("--max_steps=50")));
  EXPECT_FALSE(fs::exists(dir_ + "/run"));
}

TEST_F(TrainCliTest, InvalidDeviceIsAUsageError) {
  const ProcessResult r = Train(TrainArgs({"--device=gpu"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--device must be auto, cpu, cuda or cuda:N, "
                               "got \"gpu\""));
}

TEST_F(TrainCliTest, UserValuesAreQuotedShort) {
  const std::string huge(300, 'x');
  const ProcessResult size = Train(TrainArgs({"--size=" + huge}));
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_THAT(size.err, AllOf(HasSubstr("--size=\"xxx"),
                              HasSubstr("...\" (300 bytes) is not one of "
                                        "tiny, small, article")));
  EXPECT_LT(size.err.size(), 250u);
  const ProcessResult variants =
      Train({"study", "--data=d", "--tokenizer=t", "--out=o",
             "--variants=base,score-fcn"});
  EXPECT_EQ(variants.exit_code, 2);
  EXPECT_THAT(variants.err, HasSubstr("--variants=\"score-fcn\" is not one of "
                                      "base, qkv_gelu, separate_qkv, "
                                      "score_fcn; did you mean score_fcn?"));
  // A control character in a path cannot break the message.
  const ProcessResult corpus =
      Train({"tokenizer", "--corpus=no\nsuch.txt", "--out=" + dir_ + "/tok"});
  EXPECT_EQ(corpus.exit_code, 2);
  EXPECT_THAT(corpus.err, HasSubstr("--corpus: \"no\\nsuch.txt\": no such "
                                    "file"));
}

// export-hf refuses a missing checkpoint or a taken output before reading.
TEST_F(TrainCliTest, ExportHfChecksItsDirectoriesFirst) {
  const ProcessResult missing = Train({"export-hf", "--out=" + dir_ + "/hf"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("`export-hf` needs --checkpoint"));
  const ProcessResult absent =
      Train({"export-hf", "--checkpoint=" + dir_ + "/nothing",
             "--out=" + dir_ + "/hf"});
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_THAT(absent.err, HasSubstr("is not a checkpoint directory"));
  const ProcessResult taken =
      Train({"export-hf",
             "--checkpoint=" + std::string(TINYLM_TEST_DATA_DIR) +
                 "/../../models/checkpoints/base",
             "--out=" + std::string(TINYLM_TEST_DATA_DIR)});
  EXPECT_EQ(taken.exit_code, 2);
  EXPECT_THAT(taken.err, HasSubstr("exists and is not an empty directory"));
  EXPECT_FALSE(fs::exists(dir_ + "/hf"));
}

// A vocabulary smaller than the corpus's characters: sentencepiece fails
// after its option dump and statistics, hundreds of INFO lines before.
TEST_F(TrainCliTest, TokenizerErrorIsNotBuriedInSentencepieceLog) {
  const std::string out = dir_ + "/tok";
  const ProcessResult r = Train(
      {"tokenizer", "--corpus=" + kCorpus, "--out=" + out, "--vocab_size=500"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("training a tokenizer of 500 pieces"),
                           HasSubstr("Vocabulary size is smaller than "
                                     "required_chars"),
                           Not(HasSubstr("LOG(INFO)")),
                           Not(HasSubstr("trainer_interface.cc"))));
  const std::vector<std::string> lines =
      absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  EXPECT_LE(lines.size(), 3u) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "left an empty output folder behind";
}

}  // namespace
}  // namespace tinylm
