// tinylm-train as ranks of a data-parallel job on the CPU (Gloo), started
// here the way torchrun starts them: RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT in each process's environment.
//
// Two ranks with grad_accum 1 see the sequences one process with
// grad_accum 2 sees (train/data_parallel.h), and on fp32 CPU their
// gradients agree exactly: a sum of two is exact, and so is halving it.
// So the weights match bit for bit; the logged losses are sums over the
// ranks in another order and match to kLossTolerance.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client_process.h"
#include "tests/unused_port.h"
#include "train/metrics_csv.h"
#include "util/file_io.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Relative; fp32 sums of the same numbers in another order.
constexpr double kLossTolerance = 1e-5;

const std::string kCorpus =
    std::string(TINYLM_TEST_DATA_DIR) + "/corpus-sample.txt";

// The file's content, "" when there is none (yet).
std::string ReadAll(const std::string& path) {
  return ReadFile(path).value_or("");
}

// tinylm-train with `vars` added to a copy of this environment without a
// launch; one thread each, so that ranks and runs compute alike.
std::vector<std::string> Command(const std::vector<std::string>& vars,
                                 const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "WORLD_SIZE",
                                   "OMP_NUM_THREADS=1"};
  argv.insert(argv.end(), vars.begin(), vars.end());
  argv.push_back(TINYLM_TRAIN_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult RunTrain(const std::vector<std::string>& vars,
                       const std::vector<std::string>& args) {
  absl::StatusOr<ProcessResult> result = RunProcess(Command(vars, args));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ProcessResult();
}

std::vector<std::string> Launch(int rank, int world_size, int port) {
  return {absl::StrCat("RANK=", rank), absl::StrCat("WORLD_SIZE=", world_size),
          "MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port)};
}

class DataParallelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() /
                           ("tinylm_dp_test_" + std::to_string(getpid())));
    fs::create_directories(*dir_);
    const ProcessResult tok =
        RunTrain({}, {"tokenizer", "--corpus=" + kCorpus, "--out=" + *dir_,
                      "--vocab_size=1500", "--character_coverage=0.98"});
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    const ProcessResult prep =
        RunTrain({}, {"prepare", "--corpus=" + kCorpus,
                      "--tokenizer=" + *dir_ + "/tokenizer.model",
                      "--out=" + *dir_ + "/data", "--val_every=5"});
    ASSERT_EQ(prep.exit_code, 0) << prep.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // TinyRun of train_test: 40 steps of the tiny model, small enough
  // buckets (12 KiB) that the all-reduce runs in several.
  static std::vector<std::string> TrainArgs(const std::string& out,
                                            int grad_accum,
                                            std::vector<std::string> more) {
    std::vector<std::string> args = {
        "train",
        "--data=" + *dir_ + "/data",
        "--tokenizer=" + *dir_ + "/tokenizer.model",
        "--out=" + out,
        "--size=tiny",
        "--variant=score_fcn",
        "--device=cpu",
        "--batch_size=8",
        absl::StrCat("--grad_accum=", grad_accum),
        "--max_steps=40",
        "--warmup_steps=4",
        "--lr=1e-2",
        "--min_lr=1e-3",
        "--eval_every=20",
        "--eval_batches=4",
        "--log_every=5",
        "--progress=false",
        "--dist_bucket_mb=0.012",
        "--dist_timeout_s=60"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  // Runs `world_size` ranks, each with grad_accum 1; rank r > 0 gets
  // --out=`out`.rank<r>. Returns rank 0's result.
  static ProcessResult RunRanks(int world_size, const std::string& out,
                                std::vector<std::string> more = {}) {
    const int port = UnusedPort();
    std::vector<ChildProcess> ranks;
    for (int r = 0; r < world_size; ++r) {
      const std::string rank_out = r == 0 ? out : absl::StrCat(out, ".rank", r);
      absl::StatusOr<ChildProcess> child = ChildProcess::Start(
          Command(Launch(r, world_size, port), TrainArgs(rank_out, 1, more)));
      EXPECT_TRUE(child.ok()) << child.status();
      if (child.ok()) ranks.push_back(*std::move(child));
    }
    std::vector<ProcessResult> results;
    for (ChildProcess& rank : ranks) results.push_back(rank.Wait());
    for (size_t r = 1; r < results.size(); ++r) {
      EXPECT_EQ(results[r].exit_code, 0) << "rank " << r << results[r].err;
      EXPECT_EQ(results[r].out, "") << "rank " << r << " printed";
    }
    return results.empty() ? ProcessResult() : results[0];
  }

  static std::string Weights(const std::string& out) {
    return ReadAll(out + "/checkpoint/model.safetensors");
  }

  static void ExpectSameLosses(const std::string& expected_out,
                               const std::string& out) {
    const std::vector<MetricsRow> expected =
        *ReadMetricsCsv(expected_out + "/metrics.csv");
    const std::vector<MetricsRow> rows = *ReadMetricsCsv(out + "/metrics.csv");
    ASSERT_EQ(rows.size(), expected.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].step, expected[i].step);
      EXPECT_EQ(rows[i].tokens, expected[i].tokens);
      EXPECT_NEAR(rows[i].loss, expected[i].loss,
                  kLossTolerance * expected[i].loss)
          << "step " << rows[i].step;
      // A stopped run also evaluated where it stopped.
      if (expected[i].val_loss >= 0) {
        EXPECT_NEAR(rows[i].val_loss, expected[i].val_loss,
                    kLossTolerance * expected[i].val_loss)
            << "step " << rows[i].step;
      }
      EXPECT_EQ(rows[i].grad_norm, expected[i].grad_norm)
          << "step " << rows[i].step;
    }
  }

  static std::string* dir_;
};
std::string* DataParallelTest::dir_ = nullptr;

TEST_F(DataParallelTest, TwoRanksMatchOneRankWithTwiceTheAccumulation) {
  const std::string one = *dir_ + "/one", two = *dir_ + "/two";
  const ProcessResult reference = RunTrain({}, TrainArgs(one, 2, {}));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const ProcessResult rank0 = RunRanks(2, two);
  ASSERT_EQ(rank0.exit_code, 0) << rank0.err;
  EXPECT_THAT(rank0.out, HasSubstr("40 steps, 20480 tokens"));
  ExpectSameLosses(one, two);
  EXPECT_EQ(Weights(two), Weights(one));
  for (const char* file : {"checkpoint", "optimizer.pt", "state.json",
                           "result.json", "metrics.csv"}) {
    EXPECT_TRUE(fs::exists(two + "/" + file)) << file;
  }
  EXPECT_FALSE(fs::exists(two + ".rank1")) << "rank 1 wrote a run";
}

TEST_F(DataParallelTest, OneRankGroupEqualsARunWithoutALaunch) {
  const std::string plain = *dir_ + "/plain", group = *dir_ + "/group";
  ASSERT_EQ(RunTrain({}, TrainArgs(plain, 2, {})).exit_code, 0);
  const ProcessResult one =
      RunTrain(Launch(0, 1, UnusedPort()), TrainArgs(group, 2, {}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(Weights(group), Weights(plain));
  const std::vector<MetricsRow> a = *ReadMetricsCsv(plain + "/metrics.csv");
  const std::vector<MetricsRow> b = *ReadMetricsCsv(group + "/metrics.csv");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].loss, b[i].loss) << "step " << a[i].step;
    EXPECT_EQ(a[i].val_loss, b[i].val_loss) << "step " << a[i].step;
  }
}

// A run stopped on one world size continues on another: rank 0's
// checkpoint and optimizer state reach every rank, and the batches follow
// from the step.
TEST_F(DataParallelTest, ResumeWorksAtAnotherWorldSize) {
  const std::string whole = *dir_ + "/whole";
  ASSERT_EQ(RunTrain({}, TrainArgs(whole, 2, {})).exit_code, 0);

  const std::string down = *dir_ + "/two-then-one";
  ASSERT_EQ(RunRanks(2, down, {"--stop_after=25"}).exit_code, 0);
  const ProcessResult resumed = RunTrain({}, TrainArgs(down, 2, {"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  ExpectSameLosses(whole, down);
  EXPECT_EQ(Weights(down), Weights(whole));

  // Rank 1's --out holds nothing: it resumes from what rank 0 sends.
  const std::string up = *dir_ + "/one-then-two";
  ASSERT_EQ(RunTrain({}, TrainArgs(up, 2, {"--stop_after=25"})).exit_code, 0);
  const ProcessResult rank0 = RunRanks(2, up, {"--resume"});
  ASSERT_EQ(rank0.exit_code, 0) << rank0.err;
  ExpectSameLosses(whole, up);
  EXPECT_EQ(Weights(up), Weights(whole));
}

TEST_F(DataParallelTest, MalformedLaunchEnvironmentOrFlagIsAUsageError) {
  const std::string out = *dir_ + "/malformed";
  const struct {
    std::vector<std::string> vars;
    const char* message;
  } cases[] = {
      {{"WORLD_SIZE=two"}, "WORLD_SIZE=\"two\" must be a whole number"},
      {{"WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=1"},
       "RANK is not set but WORLD_SIZE=2 is"},
      {{"WORLD_SIZE=2", "RANK=2", "MASTER_ADDR=h", "MASTER_PORT=1"},
       "RANK=\"2\" must be a whole number from 0 to 1 (WORLD_SIZE=2)"},
      {{"WORLD_SIZE=2", "RANK=0", "MASTER_PORT=1"}, "MASTER_ADDR is not set"},
      {{"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=h", "MASTER_PORT=http"},
       "MASTER_PORT=\"http\" must be a whole number from 1 to 65535"},
  };
  for (const auto& c : cases) {
    const ProcessResult r = RunTrain(c.vars, TrainArgs(out, 1, {}));
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_THAT(r.err,
                AllOf(HasSubstr("tinylm-train train: "), HasSubstr(c.message)));
  }
  const ProcessResult bucket =
      RunTrain({}, TrainArgs(out, 1, {"--dist_bucket_mb=0"}));
  EXPECT_EQ(bucket.exit_code, 2);
  EXPECT_THAT(bucket.err, HasSubstr("--dist_bucket_mb=0 must be more than 0"));
  const ProcessResult study =
      RunTrain(Launch(0, 2, 1),
               {"study", "--data=" + *dir_ + "/data",
                "--tokenizer=" + *dir_ + "/tokenizer.model", "--out=" + out});
  EXPECT_EQ(study.exit_code, 2);
  EXPECT_THAT(study.err, HasSubstr("WORLD_SIZE=2: `study` runs in one"));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(DataParallelTest, AMissingRankFailsTheRendezvousInTime) {
  const std::string out = *dir_ + "/alone";
  const int port = UnusedPort();
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult r =
      RunTrain(Launch(0, 2, port), TrainArgs(out, 1, {"--dist_timeout_s=2"}));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("rendezvous of rank 0 of 2 at "
                                     "MASTER_ADDR=\"127.0.0.1\""),
                           HasSubstr(absl::StrCat("MASTER_PORT=", port)),
                           HasSubstr("failed within --dist_timeout_s=2")));
  EXPECT_LT(seconds, 30);
}

TEST_F(DataParallelTest, ARankThatDiesFailsTheOthers) {
  const std::string out = *dir_ + "/dies";
  const int port = UnusedPort();
  std::vector<std::string> long_run = {"--max_steps=100000", "--log_every=1"};
  absl::StatusOr<ChildProcess> rank0 = ChildProcess::Start(
      Command(Launch(0, 2, port), TrainArgs(out, 1, long_run)));
  absl::StatusOr<ChildProcess> rank1 = ChildProcess::Start(
      Command(Launch(1, 2, port), TrainArgs(out + ".rank1", 1, long_run)));
  ASSERT_TRUE(rank0.ok() && rank1.ok());
  // Killed once training runs: rank 0 has logged a step.
  for (int i = 0; i < 600 && ReadAll(out + "/metrics.csv").find("\n1,") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rank1->Signal(SIGKILL).exit_code, 128 + SIGKILL);
  const ProcessResult r = rank0->Wait();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("data parallel: "),
                           HasSubstr("failed on rank 0 of 2")));
}

}  // namespace
}  // namespace tinylm
