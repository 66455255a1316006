#include "train/trainer.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "nlohmann/json.hpp"
#include "train/autocast.h"
#include "train/batcher.h"
#include "train/data_parallel.h"
#include "train/flat_parameters.h"
#include "train/lr_schedule.h"
#include "train/metrics_csv.h"
#include "train/progress.h"
#include "train/quote_path.h"
#include "train/run_dir.h"
#include "train/token_file.h"
#include "train/train_step.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

absl::StatusOr<TokenBatcher> LoadSplit(const std::string& path,
                                       const ModelConfig& config) {
  TINYLM_ASSIGN_OR_RETURN(std::vector<uint16_t> tokens, ReadTokenFile(path));
  if (int64_t(tokens.size()) <= config.block_size + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuotePath(path), ": ", tokens.size(),
        " tokens; need more than block_size+1 = ", config.block_size + 1));
  }
  for (uint16_t t : tokens) {
    if (t >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          QuotePath(path), ": token id ", t,
          " is outside the model's vocabulary of ", config.vocab_size,
          " (prepared with another tokenizer than --tokenizer?)"));
    }
  }
  return TokenBatcher(std::move(tokens), config.block_size);
}

// What survives a restart besides weights and optimizer state.
struct RunState {
  int64_t step = 0;  // optimizer steps completed
  int64_t tokens = 0;
  double elapsed_s = 0;
};

class Run {
 public:
  Run(const TrainOptions& options, c10::Device device, DataParallel& dp,
      TokenBatcher train, TokenBatcher val)
      : options_(options),
        device_(device),
        dp_(dp),
        train_(std::move(train)),
        val_(std::move(val)),
        model_(nullptr) {}

  absl::Status Setup();
  absl::StatusOr<TrainResult> Loop();

 private:
  absl::StatusOr<double> Evaluate();
  absl::Status Save();
  absl::Status Resume();
  absl::Status Replicate();

  const TrainOptions& options_;
  c10::Device device_;
  DataParallel& dp_;
  TokenBatcher train_, val_;
  Transformer model_;
  std::unique_ptr<FlatParameters> flat_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<TrainStep> step_;  // made after a resume (train_step.h)
  absl::Status sync_status_;  // the last step's gradient all-reduce
  std::optional<MetricsCsv> csv_;
  RunState state_;
  int64_t saved_step_ = -1;  // step of the checkpoint on disk
};

absl::Status Run::Setup() {
  torch::manual_seed(options_.seed);
  model_ = Transformer(options_.config);
  model_->to(device_);
  model_->train();
  flat_ = std::make_unique<FlatParameters>(*model_);
  auto adamw = [&](double decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(options_.lr)
            .betas({options_.beta1, options_.beta2})
            .eps(1e-8)
            .weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(flat_->decayed(), adamw(options_.weight_decay));
  groups.emplace_back(flat_->undecayed(), adamw(0.0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      groups, torch::optim::AdamWOptions(options_.lr));
  if (dp_.is_rank_zero()) {
    std::error_code ec;
    fs::create_directories(options_.out_dir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          QuotePath(options_.out_dir), ": cannot create: ", ec.message()));
    }
    if (options_.resume) TINYLM_RETURN_IF_ERROR(Resume());
    TINYLM_ASSIGN_OR_RETURN(
        MetricsCsv csv, MetricsCsv::Open(options_.out_dir + "/metrics.csv",
                                         options_.resume ? state_.step : -1));
    csv_.emplace(std::move(csv));
  }
  TINYLM_RETURN_IF_ERROR(Replicate());
  dp_.SyncGradients(*model_, *flat_, options_.dist_bucket_mb);
  StepParts parts;
  parts.model = model_;
  parts.flat = flat_.get();
  parts.optimizer = optimizer_.get();
  parts.device = device_;
  parts.grad_clip = options_.grad_clip;
  parts.after_backward = [this] { sync_status_ = dp_.FinishStep(); };
  // In a launched job the gradients' all-reduce starts from host hooks
  // during the backward pass, which a CUDA graph would not replay.
  const bool graph = options_.cuda_graph && !options_.launch.has_value();
  step_ = options_.fused && FusedStepAvailable(device_)
              ? MakeFusedStep(parts, graph)
              : MakeReferenceStep(parts);
  return absl::OkStatus();
}

// Every rank continues from rank 0's run: its weights and, on resume, its
// optimizer state and position (the batches follow from the step).
absl::Status Run::Replicate() {
  std::vector<double> numbers = {double(state_.step), double(state_.tokens),
                                 state_.elapsed_s};
  TINYLM_RETURN_IF_ERROR(dp_.Replicate(
      *flat_, options_.resume ? optimizer_.get() : nullptr, &numbers));
  state_.step = int64_t(numbers[0]);
  state_.tokens = int64_t(numbers[1]);
  state_.elapsed_s = numbers[2];
  if (options_.resume) saved_step_ = state_.step;
  return absl::OkStatus();
}

// Each rank evaluates every world_size-th batch; the sum is over all.
absl::StatusOr<double> Run::Evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  at::Tensor total = at::zeros({}, at::TensorOptions().device(device_));
  for (int64_t i = dp_.rank(); i < options_.eval_batches;
       i += dp_.world_size()) {
    const Batch batch =
        val_.Evaluation(i, options_.eval_batches, options_.batch_size);
    CudaBf16Autocast autocast(device_);
    ForwardInput input(batch.inputs.to(device_));
    input.fused_attention = device_.is_cuda();
    input.kernels = options_.fused;
    const at::Tensor logits = model_->Forward(input).logits;
    total += MeanCrossEntropy(logits, batch.targets.to(device_));
  }
  model_->train();
  TINYLM_RETURN_IF_ERROR(dp_.Sum(total));
  return total.item<double>() / options_.eval_batches;
}

absl::Status Run::Save() {
  // Rank 0 writes the run; the others only learn which step it holds.
  if (!dp_.is_rank_zero()) {
    saved_step_ = state_.step;
    return absl::OkStatus();
  }
  SaveOptions save;
  save.dtype = at::kFloat;
  save.tokenizer_path = options_.tokenizer_path;
  save.training = {{"step", state_.step},
                   {"tokens", state_.tokens},
                   {"elapsed_s", state_.elapsed_s},
                   {"seed", options_.seed}};
  step_->BeforeSave();
  TINYLM_RETURN_IF_ERROR(
      SaveCheckpoint(options_.out_dir + "/checkpoint", model_, save));
  try {
    torch::save(*optimizer_, options_.out_dir + "/optimizer.pt");
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(QuotePath(options_.out_dir + "/optimizer.pt"),
                     ": cannot save: ", e.what_without_backtrace()));
  }
  const nlohmann::json state = {{"step", state_.step},
                                {"tokens", state_.tokens},
                                {"elapsed_s", state_.elapsed_s}};
  const std::string path = options_.out_dir + "/state.json";
  std::ofstream out(path + ".tmp");
  out << state.dump(2) << "\n";
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(QuotePath(path), ": write failed"));
  }
  saved_step_ = state_.step;
  return absl::OkStatus();
}

absl::Status Run::Resume() {
  const std::string path = options_.out_dir + "/state.json";
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(QuotePath(path), ": nothing to resume from"));
  }
  const nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.contains("step")) {
    return absl::DataLossError(absl::StrCat(QuotePath(path), ": unreadable"));
  }
  state_.step = state["step"].get<int64_t>();
  state_.tokens = state["tokens"].get<int64_t>();
  state_.elapsed_s = state["elapsed_s"].get<double>();
  saved_step_ = state_.step;
  TINYLM_ASSIGN_OR_RETURN(
      LoadedCheckpoint saved,
      LoadCheckpoint(options_.out_dir + "/checkpoint", c10::kCPU, at::kFloat));
  torch::NoGradGuard no_grad;
  auto saved_params = saved.model->named_parameters();
  for (auto& item : model_->named_parameters()) {
    item.value().copy_(saved_params[item.key()]);
  }
  try {
    torch::load(*optimizer_, options_.out_dir + "/optimizer.pt", device_);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat(QuotePath(options_.out_dir + "/optimizer.pt"), ": ",
                     e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> Run::Loop() {
  const int64_t tokens_per_step = options_.batch_size * options_.grad_accum *
                                  options_.config.block_size * dp_.world_size();
  ProgressBar bar(options_.max_steps,
                  options_.progress_bar && dp_.is_rank_zero());
  const int64_t first_step = state_.step;
  const double first_elapsed = state_.elapsed_s;
  at::Tensor loss_sum = at::zeros({}, at::TensorOptions().device(device_));
  int64_t interval_steps = 0;  // optimizer steps since the last log line
  double window_loss = 0;      // summed step losses since the last eval
  int64_t window_steps = 0;
  TrainResult result;
  Clock::time_point interval_start = Clock::now();
  while (state_.step < options_.max_steps) {
    const double lr =
        WarmupCosineLr(state_.step, options_.warmup_steps, options_.max_steps,
                       options_.lr, options_.min_lr);
    std::vector<Batch> micro;
    for (int64_t i = 0; i < options_.grad_accum; ++i) {
      micro.push_back(train_.Sample(options_.seed, state_.step,
                                    dp_.rank() * options_.grad_accum + i,
                                    options_.batch_size));
    }
    dp_.BeginStep(options_.grad_accum);
    const at::Tensor grad_norm = step_->Run(micro, lr, loss_sum);
    TINYLM_RETURN_IF_ERROR(sync_status_);
    ++state_.step;
    ++interval_steps;
    state_.tokens += tokens_per_step;

    const bool stop = state_.step == options_.stop_after;
    const bool eval_now = state_.step % options_.eval_every == 0 ||
                          state_.step == options_.max_steps || stop;
    if (state_.step % options_.log_every != 0 && !eval_now) continue;

    // One host sync per log interval; evaluation and saving happen after
    // the clock is read, so training time excludes them.
    MetricsRow row;
    TINYLM_RETURN_IF_ERROR(dp_.Sum(loss_sum));
    row.loss = loss_sum.item<double>() / (interval_steps * dp_.world_size());
    const double interval_s =
        std::chrono::duration<double>(Clock::now() - interval_start).count();
    state_.elapsed_s += interval_s;
    if (!std::isfinite(row.loss)) {
      return absl::DataLossError(absl::StrFormat(
          "training loss became %f by step %d; stopped. %s", row.loss,
          state_.step,
          saved_step_ < 0
              ? std::string("No checkpoint had been saved yet.")
              : absl::StrFormat("The last good checkpoint (step %d) is kept "
                                "in %s",
                                saved_step_,
                                QuotePath(options_.out_dir + "/checkpoint"))));
    }
    row.step = state_.step;
    row.tokens = state_.tokens;
    row.lr = lr;
    row.grad_norm = grad_norm.item<double>();
    row.tokens_per_s = interval_steps * tokens_per_step / interval_s;
    row.elapsed_s = state_.elapsed_s;
    window_loss += row.loss * interval_steps;
    window_steps += interval_steps;
    if (eval_now) {
      TINYLM_ASSIGN_OR_RETURN(row.val_loss, Evaluate());
      result.final_loss = window_loss / window_steps;
      result.final_val_loss = row.val_loss;
      window_loss = 0;
      window_steps = 0;
      TINYLM_RETURN_IF_ERROR(Save());
    }
    if (csv_.has_value()) TINYLM_RETURN_IF_ERROR(csv_->Append(row));
    bar.Update(
        first_step, state_.step, state_.elapsed_s - first_elapsed,
        absl::StrFormat(
            "loss %.4f%s lr %.2e %.0f tok/s", row.loss,
            row.val_loss >= 0 ? absl::StrFormat(" val %.4f", row.val_loss) : "",
            lr, row.tokens_per_s));
    loss_sum.zero_();
    interval_steps = 0;
    interval_start = Clock::now();
    if (stop) break;
  }
  bar.Finish();
  result.steps = state_.step;
  result.tokens = state_.tokens;
  result.parameters = options_.config.ParameterCount();
  result.elapsed_s = state_.elapsed_s;
  result.tokens_per_s =
      state_.elapsed_s > 0 ? state_.tokens / state_.elapsed_s : 0;
  result.device = device_.str();
  result.peak_memory_bytes = PeakDeviceMemory(device_);
  return result;
}

}  // namespace

absl::Status ValidateTrainOptions(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(options.config.Validate());
  for (const auto& [flag, value] : {
           std::make_pair("max_steps", options.max_steps),
           std::make_pair("batch_size", options.batch_size),
           std::make_pair("grad_accum", options.grad_accum),
           std::make_pair("eval_every", options.eval_every),
           std::make_pair("eval_batches", options.eval_batches),
           std::make_pair("log_every", options.log_every),
           std::make_pair("dist_timeout_s", options.dist_timeout_s),
       }) {
    if (value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, "=", value, " must be at least 1"));
    }
  }
  // The cosine decay runs over the steps after the warm-up; with none
  // left, the learning rate would never leave the warm-up ramp.
  if (options.warmup_steps < 0 || options.warmup_steps >= options.max_steps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--warmup_steps=", options.warmup_steps,
        " must be at least 0 and less than --max_steps=", options.max_steps));
  }
  if (options.resume && options.overwrite) {
    return absl::InvalidArgumentError(
        "--resume and --overwrite exclude each other: continue the run in "
        "--out, or replace it");
  }
  if (!(options.dist_bucket_mb > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dist_bucket_mb=", options.dist_bucket_mb, " must be more than 0"));
  }
  return ReplicaDevice(options.device, options.launch).status();
}

absl::StatusOr<TrainResult> Train(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(ValidateTrainOptions(options));
  const bool rank_zero = IsRankZero(options.launch);
  if (rank_zero) {
    TINYLM_RETURN_IF_ERROR(
        CheckRunDirectory(options.out_dir, options.resume, options.overwrite));
  }
  TINYLM_ASSIGN_OR_RETURN(c10::Device device,
                          ReplicaDevice(options.device, options.launch));
  TINYLM_ASSIGN_OR_RETURN(
      TokenBatcher train,
      LoadSplit(options.data_dir + "/train.bin", options.config));
  TINYLM_ASSIGN_OR_RETURN(
      TokenBatcher val,
      LoadSplit(options.data_dir + "/val.bin", options.config));
  // Only once the new run can start, so that bad data keeps the old one.
  if (options.overwrite && rank_zero) {
    TINYLM_RETURN_IF_ERROR(RemoveRun(options.out_dir));
  }
  auto dp = std::make_unique<DataParallel>();
  if (options.launch.has_value()) {
    TINYLM_ASSIGN_OR_RETURN(dp, DataParallel::Join(*options.launch, device,
                                                   options.dist_timeout_s));
  }
  Run run(options, device, *dp, std::move(train), std::move(val));
  TINYLM_RETURN_IF_ERROR(run.Setup());
  TINYLM_ASSIGN_OR_RETURN(TrainResult result, run.Loop());
  if (result.steps == options.max_steps && rank_zero) {
    const nlohmann::json j = {{"steps", result.steps},
                              {"tokens", result.tokens},
                              {"parameters", result.parameters},
                              {"final_loss", result.final_loss},
                              {"final_val_loss", result.final_val_loss},
                              {"elapsed_s", result.elapsed_s},
                              {"tokens_per_s", result.tokens_per_s},
                              {"peak_memory_bytes", result.peak_memory_bytes},
                              {"device", result.device}};
    std::ofstream out(options.out_dir + "/result.json");
    out << j.dump(2) << "\n";
    if (!out) {
      return absl::InternalError(absl::StrCat(
          QuotePath(options.out_dir + "/result.json"), ": write failed"));
    }
  }
  return result;
}

absl::StatusOr<TrainResult> ReadTrainResult(const std::string& out_dir) {
  const std::string path = out_dir + "/result.json";
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(QuotePath(path), ": no result"));
  }
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  TrainResult r;
  try {
    r.steps = j.at("steps").get<int64_t>();
    r.tokens = j.at("tokens").get<int64_t>();
    r.parameters = j.at("parameters").get<int64_t>();
    r.final_loss = j.at("final_loss").get<double>();
    r.final_val_loss = j.at("final_val_loss").get<double>();
    r.elapsed_s = j.at("elapsed_s").get<double>();
    r.tokens_per_s = j.at("tokens_per_s").get<double>();
    r.device = j.at("device").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(QuotePath(path), ": ", e.what()));
  }
  return r;
}

}  // namespace tinylm
