// tinylm-train: the training program.
//
//   tinylm-train tokenizer --corpus=a.txt,b.txt --out=DIR [--vocab_size=8000]
//   tinylm-train prepare   --corpus=... --tokenizer=DIR/tokenizer.model
//   --out=DIR tinylm-train train     --data=DIR --tokenizer=... --out=DIR
//   --variant=base tinylm-train study     --data=DIR --tokenizer=... --out=DIR
//   tinylm-train plot      --out=DIR   (redraws the study's loss curves)
//   tinylm-train export-hf --checkpoint=DIR --out=DIR   (Hugging Face Llama)
//
// Started by torchrun (or with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT
// set as torchrun sets them), `train` is one rank of a data-parallel job
// (train/data_parallel.h); a malformed launch environment is a usage error.
//
// Exit status: 0 done, 1 the command failed, 2 a usage error (an unknown
// command or flag, a bad flag value, or options that cannot work together),
// reported before anything is read or written.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "train/command_line.h"
#include "train/commands.h"
#include "train/export_hf.h"
#include "train/launch_env.h"
#include "util/status_macros.h"

ABSL_FLAG(std::vector<std::string>, corpus, {},
          "comma-separated UTF-8 corpus files");
ABSL_FLAG(std::string, tokenizer, "", "sentencepiece model (tokenizer.model)");
ABSL_FLAG(std::string, data, "", "directory made by `prepare`");
ABSL_FLAG(std::string, out, "", "output directory (plot: the study's)");
ABSL_FLAG(int64_t, vocab_size, 8000, "tokenizer vocabulary size");
ABSL_FLAG(int64_t, input_sentence_size, 2000000,
          "sentences sampled to train the tokenizer");
ABSL_FLAG(double, character_coverage, 0.9995,
          "share of characters the tokenizer covers without byte fallback");
ABSL_FLAG(int64_t, val_every, 100, "hold out one document in N");
ABSL_FLAG(int, threads, 0, "threads for tokenizing (0 = all)");
ABSL_FLAG(std::string, size, "small", "size preset: tiny, small, article");
ABSL_FLAG(std::string, variant, "base",
          "attention variant: base, qkv_gelu, separate_qkv, score_fcn");
ABSL_FLAG(std::vector<std::string>, variants, {},
          "comma-separated variants to compare (default: all four)");
ABSL_FLAG(std::string, device, "auto",
          "auto (CUDA device 0 when present, else the CPU), cpu, cuda or "
          "cuda:N; under torchrun, auto and cuda mean cuda:LOCAL_RANK");
ABSL_FLAG(uint64_t, seed, 1337, "seed for weights and batches");
ABSL_FLAG(int64_t, batch_size, 32, "sequences per micro-step");
ABSL_FLAG(int64_t, grad_accum, 1, "micro-steps per optimizer step");
ABSL_FLAG(int64_t, max_steps, 1000, "optimizer steps");
ABSL_FLAG(int64_t, warmup_steps, 100,
          "linear warm-up steps (fewer than --max_steps)");
ABSL_FLAG(double, lr, 3e-3, "peak learning rate");
ABSL_FLAG(double, min_lr, 3e-4, "final learning rate of the cosine decay");
ABSL_FLAG(double, weight_decay, 0.1, "AdamW weight decay (matrices only)");
ABSL_FLAG(double, grad_clip, 1.0, "maximum global gradient norm");
ABSL_FLAG(int64_t, eval_every, 200, "evaluate and save every N steps");
ABSL_FLAG(int64_t, log_every, 10, "log a metrics row every N steps");
ABSL_FLAG(int64_t, eval_batches, 16, "validation batches per evaluation");
ABSL_FLAG(int64_t, stop_after, -1, "stop after this step (resumable)");
ABSL_FLAG(bool, resume, false, "continue the run (study: the runs) in --out");
ABSL_FLAG(bool, overwrite, false,
          "replace the run (study: the runs) already in --out");
ABSL_FLAG(bool, progress, true, "draw a progress bar on stderr");
ABSL_FLAG(bool, fused, true,
          "on CUDA, train with the fused kernels of kernels/ (where this "
          "build has them); false: LibTorch's ops throughout");
ABSL_FLAG(bool, cuda_graph, true,
          "with --fused, capture each training step as one CUDA graph");
ABSL_FLAG(int64_t, dist_timeout_s, 300,
          "data parallel (under torchrun): seconds the rendezvous and each "
          "collective may take");
ABSL_FLAG(double, dist_bucket_mb, 4,
          "data parallel: MiB of gradients per all-reduce bucket");
ABSL_FLAG(std::string, prompts, "",
          "file of prompts (default: the article's, in train/)");
ABSL_FLAG(std::string, checkpoint, "", "a tinylm checkpoint directory");

namespace tinylm {
namespace {

constexpr char kProgram[] = "tinylm-train";

const std::vector<CommandSpec>& Commands() {
  // `train` and `study` read the same training flags.
  const std::vector<std::string> training = {
      "device",       "seed",         "batch_size", "grad_accum",   "max_steps",
      "warmup_steps", "lr",           "min_lr",     "weight_decay", "grad_clip",
      "eval_every",   "eval_batches", "log_every",  "stop_after",   "resume",
      "overwrite",    "progress",     "fused",      "cuda_graph"};
  auto with_training = [&](std::vector<std::string> flags) {
    flags.insert(flags.end(), training.begin(), training.end());
    return flags;
  };
  // Only `train` runs as a rank of a job (RANK, WORLD_SIZE, ... set).
  auto data_parallel = [](std::vector<std::string> flags) {
    flags.insert(flags.end(), {"dist_timeout_s", "dist_bucket_mb"});
    return flags;
  };
  static const auto* commands = new std::vector<CommandSpec>{
      {"tokenizer",
       "trains the sentencepiece tokenizer (BPE, byte fallback) on a corpus",
       {"corpus", "out"},
       {"corpus", "out", "vocab_size", "input_sentence_size",
        "character_coverage", "threads"}},
      {"prepare",
       "tokenizes a corpus into train.bin and val.bin",
       {"corpus", "tokenizer", "out"},
       {"corpus", "tokenizer", "out", "val_every", "threads"}},
      {"train",
       "trains one model on a prepared dataset (data parallel under torchrun)",
       {"data", "tokenizer", "out"},
       data_parallel(
           with_training({"data", "tokenizer", "out", "size", "variant"}))},
      {"study",
       "trains the attention variants on the same data and compares them",
       {"data", "tokenizer", "out"},
       with_training(
           {"data", "tokenizer", "out", "size", "variants", "prompts"})},
      {"plot",
       "redraws a study's loss_curves.png from its metrics",
       {"out"},
       {"out"}},
      {"export-hf",
       "writes a base checkpoint as a Hugging Face Llama directory",
       {"checkpoint", "out"},
       {"checkpoint", "out"}},
  };
  return *commands;
}

absl::StatusOr<TrainOptions> TrainOptionsFromFlags() {
  TrainOptions o;
  TINYLM_ASSIGN_OR_RETURN(
      o.config,
      ConfigFromFlags(absl::GetFlag(FLAGS_size), absl::GetFlag(FLAGS_variant)));
  o.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
  o.data_dir = absl::GetFlag(FLAGS_data);
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.device = absl::GetFlag(FLAGS_device);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.grad_accum = absl::GetFlag(FLAGS_grad_accum);
  o.max_steps = absl::GetFlag(FLAGS_max_steps);
  o.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.min_lr = absl::GetFlag(FLAGS_min_lr);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.grad_clip = absl::GetFlag(FLAGS_grad_clip);
  o.eval_every = absl::GetFlag(FLAGS_eval_every);
  o.eval_batches = absl::GetFlag(FLAGS_eval_batches);
  o.log_every = absl::GetFlag(FLAGS_log_every);
  o.stop_after = absl::GetFlag(FLAGS_stop_after);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  o.progress_bar = absl::GetFlag(FLAGS_progress);
  o.fused = absl::GetFlag(FLAGS_fused);
  o.cuda_graph = absl::GetFlag(FLAGS_cuda_graph);
  o.dist_timeout_s = absl::GetFlag(FLAGS_dist_timeout_s);
  o.dist_bucket_mb = absl::GetFlag(FLAGS_dist_bucket_mb);
  TINYLM_ASSIGN_OR_RETURN(o.launch, ReadLaunchEnv());
  return o;
}

using Runner = std::function<absl::Status()>;

// Maps the flags to the command's options and checks them; the runner does
// the work. An error here is a usage error.
absl::StatusOr<Runner> CheckedCommand(const std::string& command) {
  if (command == "tokenizer") {
    Tokenizer::TrainOptions o;
    o.inputs = absl::GetFlag(FLAGS_corpus);
    o.model_prefix = absl::GetFlag(FLAGS_out) + "/tokenizer";
    o.vocab_size = absl::GetFlag(FLAGS_vocab_size);
    o.input_sentence_size = absl::GetFlag(FLAGS_input_sentence_size);
    o.character_coverage = absl::GetFlag(FLAGS_character_coverage);
    o.num_threads =
        absl::GetFlag(FLAGS_threads) > 0
            ? absl::GetFlag(FLAGS_threads)
            : int(std::max(1u, std::thread::hardware_concurrency()));
    TINYLM_RETURN_IF_ERROR(CheckTokenizerOptions(o));
    return Runner([o] { return RunTokenizerCommand(o); });
  }
  if (command == "prepare") {
    PrepareOptions o;
    o.inputs = absl::GetFlag(FLAGS_corpus);
    o.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
    o.out_dir = absl::GetFlag(FLAGS_out);
    o.val_every = absl::GetFlag(FLAGS_val_every);
    o.threads = absl::GetFlag(FLAGS_threads);
    TINYLM_RETURN_IF_ERROR(CheckPrepareOptions(o));
    return Runner([o] { return RunPrepareCommand(o); });
  }
  if (command == "train") {
    TINYLM_ASSIGN_OR_RETURN(TrainOptions o, TrainOptionsFromFlags());
    TINYLM_RETURN_IF_ERROR(CheckTrainOptions(o));
    return Runner([o] { return RunTrainCommand(o); });
  }
  if (command == "study") {
    TINYLM_ASSIGN_OR_RETURN(TrainOptions o, TrainOptionsFromFlags());
    const std::vector<std::string> variants = absl::GetFlag(FLAGS_variants);
    TINYLM_RETURN_IF_ERROR(CheckStudyOptions(o, variants));
    return Runner([o, variants] {
      return RunStudyCommand(o, variants, absl::GetFlag(FLAGS_prompts));
    });
  }
  if (command == "export-hf") {
    ExportHfOptions o;
    o.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint);
    o.out_dir = absl::GetFlag(FLAGS_out);
    TINYLM_RETURN_IF_ERROR(CheckExportHfOptions(o));
    return Runner([o] { return RunExportHfCommand(o); });
  }
  // ParseCommandLine accepts no other command.
  return Runner([] { return RunPlotCommand(absl::GetFlag(FLAGS_out)); });
}

// Prints a usage error about `command` (null: the command is missing or
// unknown) and returns its exit status.
int UsageError(const CommandSpec* command, absl::string_view error) {
  if (command == nullptr) {
    std::fprintf(stderr, "%s: %s\n\n%s", kProgram, std::string(error).c_str(),
                 ProgramHelp(kProgram, Commands()).c_str());
  } else {
    std::fprintf(stderr, "%s %s: %s\n(see %s %s --help)\n", kProgram,
                 command->name.c_str(), std::string(error).c_str(), kProgram,
                 command->name.c_str());
  }
  return 2;
}

int Main(int argc, char** argv) {
  using Action = ParsedCommandLine::Action;
  const ParsedCommandLine parsed = ParseCommandLine(Commands(), argc, argv);
  switch (parsed.action) {
    case Action::kHelp:
      std::fputs(parsed.command != nullptr
                     ? CommandHelp(kProgram, *parsed.command).c_str()
                     : ProgramHelp(kProgram, Commands()).c_str(),
                 stdout);
      return 0;
    case Action::kVersion:
      std::printf("%s %s (commit %s)\n", kProgram, TINYLM_VERSION,
                  TINYLM_COMMIT);
      return 0;
    case Action::kUsageError:
      return UsageError(parsed.command, parsed.error);
    case Action::kRun:
      break;
  }
  const absl::StatusOr<Runner> runner = CheckedCommand(parsed.command->name);
  if (!runner.ok()) {
    return UsageError(parsed.command, runner.status().message());
  }
  const absl::Status status = (*runner)();
  if (!status.ok()) {
    std::fprintf(stderr, "%s %s: %s\n", kProgram, parsed.command->name.c_str(),
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) { return tinylm::Main(argc, argv); }
