// The training program on the committed corpus sample: data preparation
// round-trips, a tiny model learns, resume is bit-exact, bad input fails
// with a clear message.
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
#include "models/config.h"
#include "models/tokenizer.h"
#include "train/commands.h"
#include "train/metrics_csv.h"
#include "train/prepare.h"
#include "train/token_file.h"
#include "train/trainer.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kCorpus = std::string(TINYLM_TEST_DATA_DIR) +
                            "/corpus-sample.txt";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
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
  std::vector<MetricsRow> rows =
      *ReadMetricsCsv(*dir_ + "/learns/metrics.csv");
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
}

}  // namespace
}  // namespace tinylm
