// The engine without gRPC: static steps compute what dynamic steps do, and
// a row's static decode does not depend on the other rows; batching gives
// the same tokens as solo runs with either kind of step, seeds do not
// depend on the batch, cancellation and deadlines stop work at the next
// step, the queue is bounded, shutdown ends everything.
#include "server/engine/scheduler.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "models/checkpoint.h"
#include "models/kv_cache.h"
#include "server/engine/step_runner.h"
#include "tests/test_checkpoints.h"

namespace tinylm {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = ::testing::TempDir() + "scheduler_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    scratch_ = new std::string(pattern);
    auto dir = TestCheckpointsDir(*scratch_);
    ASSERT_TRUE(dir.ok()) << dir.status();
    auto loaded = LoadCheckpoint(*dir + "/score_fcn", c10::kCPU, c10::kFloat);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    checkpoint_ = new LoadedCheckpoint(std::move(loaded).value());
    auto tokenizer = Tokenizer::Load(checkpoint_->tokenizer_path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = tokenizer->release();
  }

  static void TearDownTestSuite() {
    delete tokenizer_;
    delete checkpoint_;
    std::error_code error;
    std::filesystem::remove_all(*scratch_, error);
    delete scratch_;
  }

  static std::unique_ptr<Scheduler> MakeScheduler(
      int64_t max_batch, int64_t max_queued = 64,
      StepShapes shapes = StepShapes::kDynamic,
      DecodePipeline pipeline = DecodePipeline::kAuto,
      int64_t admit_every_steps = 0) {
    SchedulerOptions options;
    options.max_batch = max_batch;
    options.max_queued = max_queued;
    options.step_shapes = shapes;
    options.decode_pipeline = pipeline;
    options.admit_every_steps = admit_every_steps;
    auto scheduler =
        Scheduler::Create(checkpoint_->model, tokenizer_, options);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return std::move(scheduler).value();
  }

  static std::shared_ptr<Job> MakeJob(const std::string& text,
                                      int64_t max_new_tokens,
                                      double temperature, uint64_t seed) {
    auto job = std::make_shared<Job>();
    auto ids = tokenizer_->Encode(text);
    EXPECT_TRUE(ids.ok());
    job->request.prompt = *ids;
    job->request.max_new_tokens = max_new_tokens;
    job->request.sampling.temperature = temperature;
    job->request.sampling.seed = seed;
    job->stream = std::make_shared<GenerationStream>();
    return job;
  }

  // Token events until the last event, which is returned in *last.
  static std::vector<int64_t> Drain(GenerationStream& stream,
                                    StreamEvent* last) {
    std::vector<int64_t> ids;
    while (true) {
      StreamEvent event = stream.WaitNext();
      if (event.kind == StreamEvent::Kind::kToken) {
        ids.push_back(event.token.id);
        continue;
      }
      *last = std::move(event);
      return ids;
    }
  }

  // Runs each job alone on a fresh scheduler, without pipelined decoding.
  static std::vector<std::vector<int64_t>> Solo(
      const std::vector<std::shared_ptr<Job>>& jobs, StepShapes shapes) {
    std::vector<std::vector<int64_t>> out;
    for (const auto& original : jobs) {
      auto scheduler = MakeScheduler(1, 64, shapes, DecodePipeline::kOff);
      scheduler->Start();
      auto job = std::make_shared<Job>();
      job->request = original->request;
      job->stream = std::make_shared<GenerationStream>();
      EXPECT_TRUE(scheduler->Submit(job).ok());
      StreamEvent last;
      out.push_back(Drain(*job->stream, &last));
      EXPECT_EQ(last.kind, StreamEvent::Kind::kDone);
    }
    return out;
  }

  static std::vector<std::shared_ptr<Job>> Jobs(double temperature) {
    return {MakeJob("吾輩は猫である。", 12, temperature, 1),
            MakeJob("Once upon a time there was", 9, temperature, 2),
            MakeJob("春", 15, temperature, 3),
            MakeJob("名前はまだ無い。どこで生れたか", 6, temperature, 4),
            MakeJob("The cat", 11, temperature, 5)};
  }

  // Queues all jobs before the thread starts, so that the first iteration
  // admits as many as there are slots in one batched prefill.
  static void CheckBatchedEqualsSolo(
      double temperature, StepShapes shapes,
      DecodePipeline pipeline = DecodePipeline::kAuto) {
    CheckBatchedEqualsSolo(Jobs(temperature), shapes, pipeline);
  }
  static void CheckBatchedEqualsSolo(
      const std::vector<std::shared_ptr<Job>>& jobs, StepShapes shapes,
      DecodePipeline pipeline, int64_t admit_every_steps = 0) {
    const auto solo = Solo(jobs, shapes);
    // Fewer slots than jobs.
    auto scheduler = MakeScheduler(3, 64, shapes, pipeline, admit_every_steps);
    for (const auto& job : jobs) ASSERT_TRUE(scheduler->Submit(job).ok());
    scheduler->Start();
    for (size_t i = 0; i < jobs.size(); ++i) {
      StreamEvent last;
      EXPECT_EQ(Drain(*jobs[i]->stream, &last), solo[i]) << "job " << i;
      EXPECT_EQ(last.kind, StreamEvent::Kind::kDone);
    }
  }

  static std::string* scratch_;
  static LoadedCheckpoint* checkpoint_;
  static Tokenizer* tokenizer_;
};

std::string* SchedulerTest::scratch_ = nullptr;
LoadedCheckpoint* SchedulerTest::checkpoint_ = nullptr;
Tokenizer* SchedulerTest::tokenizer_ = nullptr;

// Three sequences in scattered slots, one long enough to need the second
// prefill bucket (16 -> 32 tokens).
class StepRunnerTest : public SchedulerTest {
 protected:
  static constexpr int64_t kSlots = 3;  // the rows use slots 0, 1 and 2

  void SetUp() override {
    for (const char* text :
         {"吾輩は猫である。", "The cat",
          "Once upon a time there was a cat who lived in a small house"}) {
      auto ids = tokenizer_->Encode(text);
      ASSERT_TRUE(ids.ok()) << ids.status();
      sequences_.push_back(*ids);
    }
    ASSERT_GT(sequences_[2].size(), 16u);
    rows_ = {{&sequences_[0], 2}, {&sequences_[1], 0}, {&sequences_[2], 1}};
  }

  void AppendArgmax(const at::Tensor& logits) {
    for (size_t b = 0; b < sequences_.size(); ++b) {
      sequences_[b].push_back(logits[b].argmax().item<int64_t>());
    }
  }

  c10::NoGradGuard no_grad_;
  std::vector<std::vector<int64_t>> sequences_;
  std::vector<StepRow> rows_;
};

TEST_F(StepRunnerTest, StaticStepsComputeWhatDynamicStepsDo) {
  Transformer& model = checkpoint_->model;
  auto dynamic_steps = MakeDynamicStepRunner(model, kSlots);
  auto static_steps =
      MakeStaticStepRunner(model, kSlots, /*capture_graphs=*/false,
                           /*fused_decode=*/false);
  at::Tensor expected = dynamic_steps->Prefill(rows_);
  at::Tensor actual = static_steps->Prefill(rows_);
  for (int step = 0; step < 4; ++step) {
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_LT((actual - expected).abs().max().item<float>(), 1e-4)
        << "step " << step;
    AppendArgmax(expected);
    expected = dynamic_steps->Decode(rows_);
    actual = static_steps->Decode(rows_);
  }
}

// Where the fused decode step cannot run (here: a float32 model, and on
// CPU builds no fused kernels at all), asking for it keeps LibTorch's step,
// says why, and decodes exactly as that step does.
TEST_F(StepRunnerTest, AStaticRunnerWithoutTheFusedStepSaysWhyAndDecodes) {
  Transformer& model = checkpoint_->model;
  auto asked = MakeStaticStepRunner(model, kSlots, /*capture_graphs=*/false,
                                    /*fused_decode=*/true);
  auto plain = MakeStaticStepRunner(model, kSlots, false, false);
  EXPECT_THAT(asked->Describe(),
              testing::HasSubstr("LibTorch decode step over 3 slots"));
  EXPECT_THAT(asked->Describe(), testing::HasSubstr("(fused step: "));
  EXPECT_THAT(asked->Describe(),
              testing::Not(testing::HasSubstr("turned off")));
  EXPECT_THAT(plain->Describe(),
              testing::HasSubstr("(fused step: turned off)"));
  at::Tensor expected = plain->Prefill(rows_);
  EXPECT_TRUE(at::equal(asked->Prefill(rows_), expected));
  AppendArgmax(expected);
  EXPECT_TRUE(at::equal(asked->Decode(rows_), plain->Decode(rows_)));
}

TEST_F(StepRunnerTest, StaticPrefillOfARowDoesNotDependOnTheOtherRows) {
  auto steps = MakeStaticStepRunner(checkpoint_->model, kSlots,
                                    /*capture_graphs=*/false,
                                    /*fused_decode=*/false);
  const at::Tensor together = steps->Prefill(rows_);
  for (size_t b = 0; b < rows_.size(); ++b) {
    EXPECT_TRUE(at::equal(steps->Prefill({rows_[b]})[0], together[b]))
        << "row " << b;
  }
}

TEST_F(StepRunnerTest, StaticDecodeOfARowDoesNotDependOnTheOtherRows) {
  auto steps = MakeStaticStepRunner(checkpoint_->model, kSlots,
                                    /*capture_graphs=*/false,
                                    /*fused_decode=*/false);
  AppendArgmax(steps->Prefill(rows_));
  // The same position decoded again rewrites the same keys and values.
  const at::Tensor together = steps->Decode(rows_);
  for (size_t b = 0; b < rows_.size(); ++b) {
    const at::Tensor alone = steps->Decode({rows_[b]});
    EXPECT_TRUE(at::equal(alone[0], together[b])) << "row " << b;
  }
  // Rows left out wrote nothing into their slots: all three still match.
  EXPECT_TRUE(at::equal(steps->Decode(rows_), together));
}

TEST_F(SchedulerTest, BatchedGreedyEqualsSoloGreedy) {
  CheckBatchedEqualsSolo(0.0, StepShapes::kDynamic);
}

TEST_F(SchedulerTest, SeededSamplingDoesNotDependOnTheBatch) {
  CheckBatchedEqualsSolo(1.0, StepShapes::kDynamic);
}

TEST_F(SchedulerTest, StaticStepsBatchedGreedyEqualsSoloGreedy) {
  CheckBatchedEqualsSolo(0.0, StepShapes::kStatic);
}

TEST_F(SchedulerTest, StaticStepsSeededSamplingDoesNotDependOnTheBatch) {
  CheckBatchedEqualsSolo(1.0, StepShapes::kStatic);
}

// Pipelined decoding (step n + 1 launched before step n's tokens are
// handled; here the steps run at once, so only the scheduling is new):
// the same tokens as decoding alone, unpipelined.
TEST_F(SchedulerTest, PipelinedGreedyEqualsSoloGreedy) {
  CheckBatchedEqualsSolo(0.0, StepShapes::kStatic, DecodePipeline::kOn);
  CheckBatchedEqualsSolo(0.0, StepShapes::kDynamic, DecodePipeline::kOn);
}

// Seeded sampling, repetition penalty and alternatives pipelined too
// (Launch draws them as DecodeAndSample would): the tokens of decoding
// alone.
TEST_F(SchedulerTest, PipelinedSamplingEqualsSoloSampling) {
  for (StepShapes shapes : {StepShapes::kStatic, StepShapes::kDynamic}) {
    auto jobs = Jobs(1.0);
    jobs[1]->request.sampling.repetition_penalty = 1.4;
    jobs[3]->request.top_n = 2;
    CheckBatchedEqualsSolo(jobs, shapes, DecodePipeline::kOn);
  }
}

// A request with interventions among greedy, sampled and penalized ones:
// unpipelined steps while it runs, pipelined ones before and after (a
// repetition penalty, pipelined too, reads the fed token as history).
TEST_F(SchedulerTest, PipelinedAndPlainStepsMixWithoutChangingTokens) {
  auto jobs = Jobs(0.0);
  jobs[1]->request.sampling.repetition_penalty = 1.3;  // 9 tokens
  jobs[2]->request.sampling.temperature = 1.0;
  jobs[2]->request.sampling.repetition_penalty = 1.5;
  jobs[3]->request.top_n = 2;                                    // 6 tokens
  jobs[4]->request.interventions.push_back(InterventionSpec());  // 11
  CheckBatchedEqualsSolo(jobs, StepShapes::kStatic, DecodePipeline::kOn);
}

// Jobs beyond the three slots wait for a slot and then for the admission
// step (every third decode step): later, with the same tokens.
TEST_F(SchedulerTest, AdmissionsEveryFewStepsKeepTheTokens) {
  CheckBatchedEqualsSolo(Jobs(0.0), StepShapes::kStatic, DecodePipeline::kOn,
                         /*admit_every_steps=*/3);
  CheckBatchedEqualsSolo(Jobs(1.0), StepShapes::kDynamic, DecodePipeline::kOff,
                         /*admit_every_steps=*/3);
}

TEST_F(SchedulerTest, CancelAfterTheFirstTokenStopsAtTheNextStep) {
  auto scheduler = MakeScheduler(2);
  auto job = MakeJob("吾輩は猫である。", 30, 0.0, 1);
  // The hook runs on the scheduler thread inside Push, so the flag is set
  // before the scheduler can take another step.
  GenerationStream* stream = job->stream.get();
  stream->SetWakeup([stream] { stream->Cancel(); });
  ASSERT_TRUE(scheduler->Submit(job).ok());
  scheduler->Start();
  StreamEvent last;
  EXPECT_EQ(Drain(*stream, &last).size(), 1u);
  ASSERT_EQ(last.kind, StreamEvent::Kind::kError);
  EXPECT_EQ(last.status.code(), absl::StatusCode::kCancelled);
  stream->ClearWakeup();

  // The slot came back: two more requests run to the end.
  for (int i = 0; i < 2; ++i) {
    auto next = MakeJob("猫", 3, 0.0, 1);
    ASSERT_TRUE(scheduler->Submit(next).ok());
    Drain(*next->stream, &last);
    EXPECT_EQ(last.kind, StreamEvent::Kind::kDone);
  }
}

TEST_F(SchedulerTest, ExpiredDeadlineEndsTheRequest) {
  auto scheduler = MakeScheduler(2);
  auto job = MakeJob("猫", 10, 0.0, 1);
  job->request.deadline = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE(scheduler->Submit(job).ok());
  scheduler->Start();
  StreamEvent last;
  EXPECT_TRUE(Drain(*job->stream, &last).empty());
  ASSERT_EQ(last.kind, StreamEvent::Kind::kError);
  EXPECT_EQ(last.status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(SchedulerTest, FullQueueRefusesAndShutdownFailsQueuedJobs) {
  auto scheduler = MakeScheduler(2, /*max_queued=*/2);
  auto a = MakeJob("猫", 3, 0.0, 1), b = MakeJob("猫", 3, 0.0, 1);
  ASSERT_TRUE(scheduler->Submit(a).ok());
  ASSERT_TRUE(scheduler->Submit(b).ok());
  EXPECT_EQ(scheduler->Submit(MakeJob("猫", 3, 0.0, 1)).code(),
            absl::StatusCode::kResourceExhausted);
  scheduler->Shutdown();  // never started: both queued jobs are failed
  for (const auto& job : {a, b}) {
    StreamEvent last;
    Drain(*job->stream, &last);
    EXPECT_EQ(last.status.code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(scheduler->Submit(MakeJob("猫", 3, 0.0, 1)).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, AnalysisOnlyRequestReturnsTopK) {
  auto scheduler = MakeScheduler(1);
  scheduler->Start();
  auto job = MakeJob("吾輩は猫", 0, 0.0, 1);
  job->request.stream_tokens = false;
  job->request.analysis = AnalysisOptions();
  job->request.analysis->top_k = 3;
  job->request.analysis->entropy = true;
  ASSERT_TRUE(scheduler->Submit(job).ok());
  StreamEvent last;
  EXPECT_TRUE(Drain(*job->stream, &last).empty());
  ASSERT_EQ(last.kind, StreamEvent::Kind::kDone);
  ASSERT_TRUE(last.summary.analysis.has_value());
  ASSERT_EQ(last.summary.analysis->top_k.size(), 3u);
  EXPECT_GE(last.summary.analysis->top_k[0].probability,
            last.summary.analysis->top_k[1].probability);
  EXPECT_EQ(int64_t(last.summary.analysis->entropy.size()),
            checkpoint_->config.n_layer);
}

// Records what the scheduler reports (server/operations/metrics.h implements
// it).
class RecordingMetrics : public SchedulerMetrics {
 public:
  void OnStep(int64_t rows, bool prefill) override {
    std::lock_guard<std::mutex> lock(mu_);
    (prefill ? prefill_rows_ : decode_rows_).push_back(rows);
  }
  void OnToken(bool first, absl::Duration latency) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++(first ? first_tokens_ : later_tokens_);
    if (latency < absl::ZeroDuration()) ++negative_latencies_;
  }
  void OnSlotsInUse(int64_t used) override {
    std::lock_guard<std::mutex> lock(mu_);
    max_slots_used_ = std::max(max_slots_used_, used);
  }
  void OnSchedulerTime(SchedulerActivity activity,
                       absl::Duration spent) override {
    std::lock_guard<std::mutex> lock(mu_);
    const int i = static_cast<int>(activity);
    ++activity_reports_[i];
    activity_time_[i] += spent;
    if (spent < absl::ZeroDuration()) ++negative_latencies_;
  }

  std::mutex mu_;
  // By SchedulerActivity: launch, wait, step, tokens.
  int64_t activity_reports_[4] = {0, 0, 0, 0};
  absl::Duration activity_time_[4];
  std::vector<int64_t> prefill_rows_, decode_rows_;
  int64_t first_tokens_ = 0, later_tokens_ = 0, negative_latencies_ = 0;
  int64_t max_slots_used_ = 0;
};

TEST_F(SchedulerTest, MetricsSeeEveryStepAndToken) {
  auto metrics = std::make_shared<RecordingMetrics>();
  SchedulerOptions options;
  options.max_batch = 2;
  options.metrics = metrics;
  auto created = Scheduler::Create(checkpoint_->model, tokenizer_, options);
  ASSERT_TRUE(created.ok()) << created.status();
  Scheduler& scheduler = **created;
  auto a = MakeJob("吾輩は猫である。", 6, 0.0, 1);
  auto b = MakeJob("The cat", 9, 0.0, 2);
  ASSERT_TRUE(scheduler.Submit(a).ok());
  ASSERT_TRUE(scheduler.Submit(b).ok());
  EXPECT_EQ(scheduler.queued(), 2);
  const absl::Time started = absl::Now();
  scheduler.Start();
  StreamEvent last;
  const size_t a_tokens = Drain(*a->stream, &last).size();
  const size_t b_tokens = Drain(*b->stream, &last).size();
  EXPECT_EQ(scheduler.queued(), 0);
  scheduler.Shutdown();  // every report is in after the join
  const absl::Duration ran = absl::Now() - started;

  std::lock_guard<std::mutex> lock(metrics->mu_);
  // Both were queued before the start: one prefill of two rows.
  EXPECT_EQ(metrics->prefill_rows_, std::vector<int64_t>({2}));
  EXPECT_EQ(metrics->first_tokens_, 2);
  EXPECT_EQ(metrics->first_tokens_ + metrics->later_tokens_,
            int64_t(a_tokens + b_tokens));
  // Each decode row gives one later token.
  int64_t decode_rows = 0;
  for (int64_t rows : metrics->decode_rows_) {
    EXPECT_GE(rows, 1);
    EXPECT_LE(rows, 2);
    decode_rows += rows;
  }
  EXPECT_EQ(decode_rows, metrics->later_tokens_);
  EXPECT_EQ(metrics->negative_latencies_, 0);
  EXPECT_LE(metrics->max_slots_used_, 2);
  // Both still running after the first iteration (prefill + one decode).
  if (a_tokens >= 3 && b_tokens >= 3) {
    EXPECT_EQ(metrics->max_slots_used_, 2);
  }
  // The thread's time by activity: a synchronous step (at least the
  // prefill); tokens handled once after each synchronous step and each
  // launched step waited for; together no more than the thread ran.
  const int64_t* reports = metrics->activity_reports_;
  const int kLaunch = 0, kWait = 1, kStep = 2, kTokens = 3;
  EXPECT_GE(reports[kStep], 1);
  EXPECT_EQ(reports[kTokens], reports[kStep] + reports[kWait]);
  EXPECT_LE(reports[kWait], reports[kLaunch]);
  EXPECT_GT(metrics->activity_time_[kStep], absl::ZeroDuration());
  absl::Duration total;
  for (const absl::Duration& d : metrics->activity_time_) total += d;
  EXPECT_LE(total, ran);
  // The same totals for the shutdown log, to its two decimals.
  const std::string report = scheduler.time_report();
  double seconds[4];
  ASSERT_EQ(std::sscanf(report.c_str(),
                        "launch %lf s, wait %lf s, step %lf s, tokens %lf s",
                        &seconds[0], &seconds[1], &seconds[2], &seconds[3]),
            4)
      << report;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(seconds[i], absl::ToDoubleSeconds(metrics->activity_time_[i]),
                0.0051)
        << report;
  }
}

}  // namespace
}  // namespace tinylm
