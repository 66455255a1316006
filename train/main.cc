// tinylm-train: the training program.
//
//   tinylm-train tokenizer --corpus=a.txt,b.txt --out=DIR [--vocab_size=8000]
//   tinylm-train prepare   --corpus=... --tokenizer=DIR/tokenizer.model --out=DIR
//   tinylm-train train     --data=DIR --tokenizer=... --out=DIR --variant=base
//   tinylm-train study     --data=DIR --tokenizer=... --out=DIR
//   tinylm-train plot      --out=DIR   (redraws the study's loss curves)
#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "train/commands.h"

ABSL_FLAG(std::vector<std::string>, corpus, {},
          "comma-separated UTF-8 corpus files (tokenizer, prepare)");
ABSL_FLAG(std::string, tokenizer, "",
          "sentencepiece model (prepare, train, study)");
ABSL_FLAG(std::string, data, "", "directory made by `prepare`");
ABSL_FLAG(std::string, out, "", "output directory");
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
          "variants for `study` (default: all four)");
ABSL_FLAG(std::string, device, "auto", "auto, cpu or cuda");
ABSL_FLAG(uint64_t, seed, 1337, "seed for weights and batches");
ABSL_FLAG(int64_t, batch_size, 32, "sequences per micro-step");
ABSL_FLAG(int64_t, grad_accum, 1, "micro-steps per optimizer step");
ABSL_FLAG(int64_t, max_steps, 1000, "optimizer steps");
ABSL_FLAG(int64_t, warmup_steps, 100, "linear warm-up steps");
ABSL_FLAG(double, lr, 3e-3, "peak learning rate");
ABSL_FLAG(double, min_lr, 3e-4, "final learning rate of the cosine decay");
ABSL_FLAG(double, weight_decay, 0.1, "AdamW weight decay (matrices only)");
ABSL_FLAG(double, grad_clip, 1.0, "maximum global gradient norm");
ABSL_FLAG(int64_t, eval_every, 200, "evaluate and save every N steps");
ABSL_FLAG(int64_t, log_every, 10, "log a metrics row every N steps");
ABSL_FLAG(int64_t, eval_batches, 16, "validation batches per evaluation");
ABSL_FLAG(int64_t, stop_after, -1, "stop after this step (resumable)");
ABSL_FLAG(bool, resume, false, "continue the run in --out");
ABSL_FLAG(bool, progress, true, "draw a progress bar on stderr");
ABSL_FLAG(std::string, prompts, "",
          "study: file of prompts (default: the article's, in train/)");

namespace tinylm {
namespace {

absl::StatusOr<TrainOptions> TrainOptionsFromFlags() {
  TrainOptions o;
  absl::StatusOr<ModelConfig> config =
      MakeConfig(absl::GetFlag(FLAGS_size), absl::GetFlag(FLAGS_variant));
  if (!config.ok()) return config.status();
  o.config = *config;
  o.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
  if (!o.tokenizer_path.empty()) {
    // The vocabulary size is the tokenizer's, whatever the size preset says.
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
        Tokenizer::Load(o.tokenizer_path);
    if (!tokenizer.ok()) return tokenizer.status();
    o.config.vocab_size = (*tokenizer)->vocab_size();
  }
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
  o.progress_bar = absl::GetFlag(FLAGS_progress);
  return o;
}

absl::Status RunCommand(const std::string& command) {
  if (command == "tokenizer") {
    Tokenizer::TrainOptions o;
    o.inputs = absl::GetFlag(FLAGS_corpus);
    o.model_prefix = absl::GetFlag(FLAGS_out) + "/tokenizer";
    o.vocab_size = absl::GetFlag(FLAGS_vocab_size);
    o.input_sentence_size = absl::GetFlag(FLAGS_input_sentence_size);
    o.character_coverage = absl::GetFlag(FLAGS_character_coverage);
    o.num_threads = absl::GetFlag(FLAGS_threads) > 0
                        ? absl::GetFlag(FLAGS_threads)
                        : int(std::max(1u, std::thread::hardware_concurrency()));
    return RunTokenizerCommand(o);
  }
  if (command == "prepare") {
    PrepareOptions o;
    o.inputs = absl::GetFlag(FLAGS_corpus);
    o.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
    o.out_dir = absl::GetFlag(FLAGS_out);
    o.val_every = absl::GetFlag(FLAGS_val_every);
    o.threads = absl::GetFlag(FLAGS_threads);
    return RunPrepareCommand(o);
  }
  if (command == "train" || command == "study") {
    absl::StatusOr<TrainOptions> o = TrainOptionsFromFlags();
    if (!o.ok()) return o.status();
    if (command == "train") return RunTrainCommand(*o);
    return RunStudyCommand(*o, absl::GetFlag(FLAGS_variants),
                           absl::GetFlag(FLAGS_prompts));
  }
  if (command == "plot") return RunPlotCommand(absl::GetFlag(FLAGS_out));
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command '", command,
      "'; expected tokenizer, prepare, train, study or plot"));
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tinylm-train COMMAND [--flags]\n"
      "commands: tokenizer, prepare, train, study, plot (see --help)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const absl::Status status = tinylm::RunCommand(args[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "tinylm-train %s: %s\n", args[1],
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
