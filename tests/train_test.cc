// The training program on the committed corpus sample: data preparation
// round-trips, a tiny model learns, resume is bit-exact, an earlier run is
// never overwritten silently, bad input fails with a clear message; and the
// loss plots' axis ticks.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "models/config.h"
#include "models/tokenizer.h"
#include "train/commands.h"
#include "train/metrics_csv.h"
#include "train/plot_ticks.h"
#include "train/prepare.h"
#include "train/token_file.h"
#include "train/trainer.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kCorpus =
    std::string(TINYLM_TEST_DATA_DIR) + "/corpus-sample.txt";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() /
                           ("tinylm_train_test_" + std::to_string(getpid())));
    fs::create_directories(*dir_);
    Tokenizer::TrainOptions tok;
    tok.inputs = {kCorpus};
    tok.model_prefix = *dir_ + "/tokenizer";
    tok.vocab_size = 1500;
    tok.character_coverage = 0.98;
    tok.log_progress = false;
    ASSERT_TRUE(Tokenizer::Train(tok).ok());
    PrepareOptions prep;
    prep.inputs = {kCorpus};
    prep.tokenizer_path = tokenizer_path();
    prep.out_dir = *dir_ + "/data";
    prep.val_every = 5;
    prep.threads = 2;
    fs::create_directories(prep.out_dir);
    absl::StatusOr<PrepareSummary> summary = PrepareDataset(prep);
    ASSERT_TRUE(summary.ok()) << summary.status();
    summary_ = new PrepareSummary(*summary);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete summary_;
  }
  static std::string tokenizer_path() { return *dir_ + "/tokenizer.model"; }

  TrainOptions TinyRun(const std::string& name) const {
    TrainOptions o;
    o.config = *MakeConfig("tiny", "score_fcn");
    o.config.vocab_size = 1500;
    o.data_dir = *dir_ + "/data";
    o.tokenizer_path = tokenizer_path();
    o.out_dir = *dir_ + "/" + name;
    o.device = "cpu";
    o.batch_size = 8;
    o.grad_accum = 2;
    o.max_steps = 40;
    o.lr = 1e-2;
    o.min_lr = 1e-3;
    o.warmup_steps = 4;
    o.eval_every = 20;
    o.eval_batches = 4;
    o.log_every = 5;
    o.progress_bar = false;
    return o;
  }

  // Six steps with two evaluations, for tests of what runs leave behind.
  TrainOptions ShortRun(const std::string& name) const {
    TrainOptions o = TinyRun(name);
    o.max_steps = 6;
    o.warmup_steps = 2;
    o.eval_every = 3;
    o.log_every = 3;
    o.eval_batches = 2;
    return o;
  }

  static std::string* dir_;
  static PrepareSummary* summary_;
};
std::string* TrainTest::dir_ = nullptr;
PrepareSummary* TrainTest::summary_ = nullptr;

TEST_F(TrainTest, PreparedTokensDecodeBackToTheCorpus) {
  std::unique_ptr<Tokenizer> tokenizer = *Tokenizer::Load(tokenizer_path());
  // Expected documents, split as prepare splits them.
  std::vector<std::string> train_docs, val_docs;
  int64_t index = 0;
  for (absl::string_view doc :
       absl::StrSplit(ReadAll(kCorpus), "\n\n", absl::SkipEmpty())) {
    std::string text(doc);
    if (text.back() != '\n') text += '\n';
    (index++ % 5 == 2 ? val_docs : train_docs).push_back(text);
  }
  EXPECT_EQ(summary_->documents, index);
  for (const auto& [file, expected] :
       {std::make_pair("/data/train.bin", train_docs),
        std::make_pair("/data/val.bin", val_docs)}) {
    std::vector<uint16_t> tokens = *ReadTokenFile(*dir_ + file);
    std::vector<std::string> decoded;
    std::vector<int64_t> current;
    for (uint16_t t : tokens) {
      if (t == tokenizer->eos_id()) {
        decoded.push_back(*tokenizer->Decode(current));
        current.clear();
      } else {
        current.push_back(t);
      }
    }
    EXPECT_TRUE(current.empty()) << file << " does not end with EOS";
    EXPECT_EQ(decoded, expected) << file;
  }
}

TEST_F(TrainTest, TinyModelLearns) {
  absl::StatusOr<TrainResult> result = Train(TinyRun("learns"));
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<MetricsRow> rows = *ReadMetricsCsv(*dir_ + "/learns/metrics.csv");
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_NEAR(rows.front().loss, std::log(1500.0), 0.5);  // uniform start
  EXPECT_LT(rows.back().loss, rows.front().loss - 0.5);
  EXPECT_LT(rows.back().val_loss, rows[3].val_loss);
  EXPECT_EQ(result->steps, 40);
  EXPECT_EQ(result->tokens, 40 * 8 * 2 * 32);
  EXPECT_TRUE(fs::exists(*dir_ + "/learns/checkpoint/model.safetensors"));
  EXPECT_TRUE(fs::exists(*dir_ + "/learns/checkpoint/tokenizer.model"));
  // The result is also on disk for the study.
  absl::StatusOr<TrainResult> saved = ReadTrainResult(*dir_ + "/learns");
  ASSERT_TRUE(saved.ok());
  EXPECT_DOUBLE_EQ(saved->final_val_loss, result->final_val_loss);
}

TEST_F(TrainTest, ResumeEqualsUninterruptedTraining) {
  ASSERT_TRUE(Train(TinyRun("whole")).ok());
  TrainOptions first = TinyRun("split");
  first.stop_after = 25;  // between two evaluations
  ASSERT_TRUE(Train(first).ok());
  TrainOptions second = TinyRun("split");
  second.resume = true;
  ASSERT_TRUE(Train(second).ok());
  EXPECT_EQ(ReadAll(*dir_ + "/whole/checkpoint/model.safetensors"),
            ReadAll(*dir_ + "/split/checkpoint/model.safetensors"));
  std::vector<MetricsRow> whole = *ReadMetricsCsv(*dir_ + "/whole/metrics.csv");
  std::vector<MetricsRow> split = *ReadMetricsCsv(*dir_ + "/split/metrics.csv");
  ASSERT_EQ(whole.size(), split.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].step, split[i].step);
    EXPECT_EQ(whole[i].loss, split[i].loss) << "step " << whole[i].step;
  }
}

TEST_F(TrainTest, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  TrainOptions healthy = TinyRun("diverges");
  healthy.eval_every = 5;
  healthy.stop_after = 10;
  ASSERT_TRUE(Train(healthy).ok());
  const std::string weights = *dir_ + "/diverges/checkpoint/model.safetensors";
  const std::string saved = ReadAll(weights);

  TrainOptions exploding = healthy;
  exploding.stop_after = -1;
  exploding.resume = true;
  exploding.lr = exploding.min_lr = 1e30;  // the weights blow up at once
  absl::StatusOr<TrainResult> result = Train(exploding);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status().message(),
              HasSubstr("last good checkpoint (step 10)"));
  EXPECT_EQ(ReadAll(weights), saved);
}

TEST_F(TrainTest, WarmupMustEndBeforeTheLastStep) {
  TrainOptions o = TinyRun("warmup");
  o.warmup_steps = o.max_steps;
  const absl::Status status = Train(o).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("--warmup_steps=40"),
                                      HasSubstr("--max_steps=40")));
  EXPECT_FALSE(fs::exists(o.out_dir));
}

TEST_F(TrainTest, ARunIsContinuedOrReplacedOnlyOnRequest) {
  const TrainOptions o = ShortRun("again");
  ASSERT_TRUE(Train(o).ok());
  const std::string metrics = ReadAll(o.out_dir + "/metrics.csv");

  const absl::Status refused = Train(o).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.message(),
              AllOf(HasSubstr("--resume"), HasSubstr("--overwrite")));
  EXPECT_EQ(ReadAll(o.out_dir + "/metrics.csv"), metrics);

  TrainOptions both = o;
  both.resume = both.overwrite = true;
  EXPECT_EQ(Train(both).status().code(), absl::StatusCode::kInvalidArgument);

  // Replaced by a run stopped half way: nothing of the finished one stays.
  TrainOptions replace = o;
  replace.overwrite = true;
  replace.stop_after = 3;
  ASSERT_TRUE(Train(replace).ok());
  EXPECT_FALSE(fs::exists(o.out_dir + "/result.json"));
  EXPECT_EQ(ReadMetricsCsv(o.out_dir + "/metrics.csv")->back().step, 3);

  TrainOptions resume = o;
  resume.resume = true;
  absl::StatusOr<TrainResult> resumed = Train(resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->steps, 6);
}

TEST_F(TrainTest, AStudyIsContinuedOrReplacedOnlyOnRequest) {
  const TrainOptions o = ShortRun("study");
  const std::string prompts = *dir_ + "/prompts.tsv";
  WriteAll(prompts, "continue\tThe cat\n");
  ASSERT_TRUE(RunStudyCommand(o, {"base"}, prompts).ok());
  const std::string metrics = o.out_dir + "/runs/base/metrics.csv";
  const std::string trained = ReadAll(metrics);

  const absl::Status refused = RunStudyCommand(o, {"base"}, prompts);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.message(),
              AllOf(HasSubstr("runs of base"), HasSubstr("--resume"),
                    HasSubstr("--overwrite")));

  // Continued: the finished run is reported, not trained again.
  TrainOptions resume = o;
  resume.resume = true;
  ASSERT_TRUE(RunStudyCommand(resume, {"base"}, prompts).ok());
  EXPECT_EQ(ReadAll(metrics), trained);

  TrainOptions overwrite = o;
  overwrite.overwrite = true;
  ASSERT_TRUE(RunStudyCommand(overwrite, {"base"}, prompts).ok());
  EXPECT_EQ(ReadMetricsCsv(metrics)->back().step, 6);
}

// The study's attention report over one text: the statistics agree with
// the maps it writes, uniform attention is computed in closed form, and the
// 「、」 keys are found.
TEST_F(TrainTest, AStudyMeasuresAttentionOverItsPrompts) {
  const TrainOptions o = ShortRun("study-attention");
  const std::string prompts = *dir_ + "/attention-prompts.tsv";
  const std::string text = "その途端に私は、やっと絵巻物から眼を外らして、振り向いた。";
  WriteAll(prompts, "attention\t" + text + "\n");
  ASSERT_TRUE(RunStudyCommand(o, {"base", "score_fcn"}, prompts).ok());
  const nlohmann::json stats =
      nlohmann::json::parse(ReadAll(o.out_dir + "/attention_stats.json"));
  const nlohmann::json maps =
      nlohmann::json::parse(ReadAll(o.out_dir + "/attention_maps.json"));
  EXPECT_EQ(stats["texts"], nlohmann::json::array({text}));
  EXPECT_EQ(maps["text"], text);

  std::unique_ptr<Tokenizer> tokenizer = *Tokenizer::Load(tokenizer_path());
  const std::vector<int64_t> ids = *tokenizer->Encode(text);
  const int64_t T = ids.size();
  ASSERT_EQ(stats["query_rows"], T);
  ASSERT_EQ(maps["tokens"].size(), size_t(T));
  double uniform_entropy = 0;
  for (int64_t i = 0; i < T; ++i) uniform_entropy += std::log(i + 1.0) / T;
  const nlohmann::json& measures = stats["measures"];
  EXPECT_NEAR(measures["entropy"]["uniform"].get<double>(), uniform_entropy,
              1e-9);
  int commas = 0;
  for (const auto& piece : maps["tokens"]) {
    commas += piece.get<std::string>().find("、") != std::string::npos;
  }
  EXPECT_GE(commas, 1) << "the tokenizer keeps 「、」 a piece of its own";
  EXPECT_GT(measures["comma_mass"]["uniform"].get<double>(), 0.0);

  const int last = o.config.n_layer - 1;
  EXPECT_EQ(maps["layer"], last);
  for (const std::string variant : {"base", "score_fcn"}) {
    SCOPED_TRACE(variant);
    const nlohmann::json& heads = maps["maps"][variant];
    ASSERT_EQ(heads.size(), size_t(o.config.n_head));
    // The last layer's statistics are the maps' row means (over heads).
    double first = 0, diagonal = 0;
    for (const auto& head : heads) {
      ASSERT_EQ(head.size(), size_t(T));
      for (int64_t i = 0; i < T; ++i) {
        double row_sum = 0;
        for (int64_t j = 0; j < T; ++j) {
          const double p = head[i][j].get<double>();
          EXPECT_GE(p, 0.0);
          if (j > i) {
            EXPECT_EQ(p, 0.0) << "causal mask, row " << i;
          }
          row_sum += p;
        }
        EXPECT_NEAR(row_sum, 1.0, 1e-5);
        first += head[i][0].get<double>() / (T * heads.size());
        diagonal += head[i][i].get<double>() / (T * heads.size());
      }
    }
    EXPECT_NEAR(measures["first_token_mass"]["variants"][variant][last]
                    .get<double>(),
                first, 1e-6);
    EXPECT_NEAR(
        measures["diagonal_mass"]["variants"][variant][last].get<double>(),
        diagonal, 1e-6);
    for (int l = 0; l <= last; ++l) {
      const double entropy =
          measures["entropy"]["variants"][variant][l].get<double>();
      EXPECT_GE(entropy, 0.0);
      EXPECT_LE(entropy, uniform_entropy + 1e-6)
          << "no causal row is flatter than uniform";
    }
  }
  const std::string md = ReadAll(o.out_dir + "/attention_stats.md");
  EXPECT_THAT(md, AllOf(HasSubstr("| layer | base | score_fcn | uniform |"),
                        HasSubstr("mass on 「、」 keys")));
}

TEST_F(TrainTest, PrepareThatHoldsOutNothingSuggestsASmallerValEvery) {
  const std::string corpus = *dir_ + "/three.txt";
  WriteAll(corpus, "Alpha.\n\nBeta.\n\nGamma.\n");
  PrepareOptions prep;
  prep.inputs = {corpus};
  prep.tokenizer_path = tokenizer_path();
  prep.out_dir = *dir_ + "/three";
  const absl::Status status = RunPrepareCommand(prep);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("3 documents"), HasSubstr("--val_every=100"),
                    HasSubstr("pass --val_every=5 or less")));
  EXPECT_FALSE(fs::exists(prep.out_dir)) << "left an empty folder behind";

  prep.val_every = 5;
  absl::StatusOr<PrepareSummary> summary = PrepareDataset(prep);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->val_documents, 1);

  WriteAll(corpus, "Alpha.\n");
  EXPECT_THAT(RunPrepareCommand(prep).message(), HasSubstr("1 document"));
}

TEST_F(TrainTest, BadInputGivesClearErrors) {
  TrainOptions o = TinyRun("bad");
  o.data_dir = *dir_ + "/no-such-dir";
  absl::StatusOr<TrainResult> missing = Train(o);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no-such-dir/train.bin"));

  o = TinyRun("bad");
  o.config.vocab_size = 100;  // smaller than the tokenizer's ids
  EXPECT_THAT(Train(o).status().message(), HasSubstr("outside the model's"));

  const std::string empty = *dir_ + "/empty.txt";
  std::ofstream(empty).close();
  PrepareOptions prep;
  prep.inputs = {empty};
  prep.tokenizer_path = tokenizer_path();
  prep.out_dir = *dir_;
  EXPECT_THAT(RunPrepareCommand(prep).message(), HasSubstr("empty"));
  prep.inputs = {*dir_ + "/missing.txt"};
  EXPECT_EQ(RunPrepareCommand(prep).code(), absl::StatusCode::kNotFound);

  Tokenizer::TrainOptions tok;
  tok.inputs = {kCorpus};
  tok.model_prefix = *dir_ + "/too-big";
  tok.vocab_size = 200000;  // more pieces than the sample can make
  tok.character_coverage = 0.98;
  tok.log_progress = false;
  EXPECT_THAT(Tokenizer::Train(tok).message(), HasSubstr("too high"));

  // A malformed prompt line is quoted short, whatever its length.
  const std::string prompts = *dir_ + "/bad-prompts.tsv";
  WriteAll(prompts, std::string(1000, 'x') + "\n");
  const absl::Status bad = RunStudyCommand(TinyRun("bad-study"), {}, prompts);
  EXPECT_THAT(bad.message(), HasSubstr("...\" (1000 bytes)"));
  EXPECT_LT(bad.message().size(), 300u);
}

std::vector<std::string> Labels(const std::vector<Tick>& ticks) {
  std::vector<std::string> labels;
  for (const Tick& t : ticks) labels.push_back(t.label);
  return labels;
}

TEST(PlotTicksTest, TokenTicksTakeTheirUnitFromTheRange) {
  // The tiny runs of the tests: 20,480 tokens.
  EXPECT_THAT(Labels(NiceTicks(0, 20480, 6, true)),
              ElementsAre("0", "5k", "10k", "15k", "20k"));
  // The shipped study: 62.3 M tokens.
  EXPECT_THAT(Labels(NiceTicks(0, 62.3e6, 6, true)),
              ElementsAre("0", "10M", "20M", "30M", "40M", "50M", "60M"));
  EXPECT_THAT(Labels(NiceTicks(0, 2.5e6, 5, true)),
              ElementsAre("0", "0.5M", "1.0M", "1.5M", "2.0M", "2.5M"));
  EXPECT_THAT(Labels(NiceTicks(0, 40, 5, true)),
              ElementsAre("0", "10", "20", "30", "40"));
}

TEST(PlotTicksTest, LossTicksAreRoundNumbers) {
  EXPECT_THAT(Labels(NiceTicks(4.0, 8.0, 6, false)),
              ElementsAre("4.0", "4.5", "5.0", "5.5", "6.0", "6.5", "7.0",
                          "7.5", "8.0"));
  EXPECT_THAT(Labels(NiceTicks(6.5, 7.3, 5, false)),
              ElementsAre("6.6", "6.8", "7.0", "7.2"));
  EXPECT_TRUE(NiceTicks(1, 1, 5, false).empty());
}

}  // namespace
}  // namespace tinylm
