// `study`: the article's comparison. Trains each variant on the same data,
// seed and budget, exports bf16 checkpoints, and writes
//   study.md / study.json   params, loss, val loss, training time, tokens/s
//   loss_curves.png         training and validation loss per variant
//   samples.md              continuations and top-5 of the article's prompts
//   attention_stats.md/json attention measured over all the prompts' texts
//   attention_maps.json     the last layer's maps of the first prompt
#include <c10/core/Device.h>
#include <torch/cuda.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "models/checkpoint.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"
#include "train/attention_report.h"
#include "train/command_line.h"
#include "train/commands.h"
#include "train/continuation.h"
#include "train/loss_plot.h"
#include "train/progress.h"
#include "train/quote_path.h"
#include "train/run_dir.h"
#include "util/quote.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

struct VariantResult {
  std::string variant;
  TrainResult train;
};

struct Prompt {
  // "continue", "top5", or "attention" (only measured: see
  // attention_report.h; every prompt's text is)
  std::string kind;
  std::string text;
};

absl::StatusOr<std::vector<Prompt>> ReadPrompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(QuotePath(path), ": cannot open"));
  }
  std::vector<Prompt> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    if (cells.size() != 2 || (cells[0] != "continue" && cells[0] != "top5" &&
                              cells[0] != "attention")) {
      return absl::InvalidArgumentError(absl::StrCat(
          QuotePath(path),
          ": expected 'continue<TAB>text', 'top5<TAB>text' or "
          "'attention<TAB>text', got ",
          Quote(line)));
    }
    prompts.push_back({cells[0], cells[1]});
  }
  return prompts;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) {
    return absl::InternalError(absl::StrCat(QuotePath(path), ": write failed"));
  }
  std::printf("wrote %s\n", path.c_str());
  return absl::OkStatus();
}

nlohmann::json Summary(const TrainOptions& o, const TrainResult& r) {
  nlohmann::json dataset;
  std::ifstream in(o.data_dir + "/dataset.json");
  if (in) dataset = nlohmann::json::parse(in, nullptr, false);
  return {{"steps", r.steps},
          {"tokens", r.tokens},
          {"loss", r.final_loss},
          {"val_loss", r.final_val_loss},
          {"training_time_s", r.elapsed_s},
          {"tokens_per_s", r.tokens_per_s},
          {"device", r.device},
          {"seed", o.seed},
          {"batch_size", o.batch_size * o.grad_accum},
          {"lr", o.lr},
          {"dataset", dataset.is_discarded() ? nlohmann::json() : dataset}};
}

// Re-saves the run's float32 checkpoint as the bf16 checkpoint we ship.
absl::Status Export(const TrainOptions& o, const VariantResult& v,
                    const std::string& run_dir, const std::string& dir) {
  TINYLM_ASSIGN_OR_RETURN(
      LoadedCheckpoint ckpt,
      LoadCheckpoint(run_dir + "/checkpoint", c10::kCPU, at::kFloat));
  SaveOptions save;
  save.dtype = at::kBFloat16;
  save.training = Summary(o, v.train);
  save.tokenizer_path = o.tokenizer_path;
  return SaveCheckpoint(dir, ckpt.model, save);
}

std::string Table(const std::vector<VariantResult>& results) {
  std::string md =
      "| variant | parameters | loss | val loss | training time | tokens/s |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const VariantResult& v : results) {
    absl::StrAppendFormat(
        &md, "| %s | %d | %.4f | %.4f | %s | %.0f |\n", v.variant,
        v.train.parameters, v.train.final_loss, v.train.final_val_loss,
        FormatDuration(v.train.elapsed_s), v.train.tokens_per_s);
  }
  return md;
}

absl::StatusOr<std::string> Samples(const std::string& out_dir,
                                    const std::vector<VariantResult>& results,
                                    const std::vector<Prompt>& prompts) {
  SamplingParams params;
  params.temperature = 0.8;
  params.top_k = 40;
  params.repetition_penalty = 1.1;
  params.seed = 1;
  std::string md = absl::StrFormat(
      "Sampling: temperature %.1f, top-k %d, repetition penalty %.1f, seed "
      "%d; up to 48 new tokens; bf16 checkpoints run in float32 on the "
      "CPU.\n",
      params.temperature, params.top_k, params.repetition_penalty, params.seed);
  for (const Prompt& prompt : prompts) {
    if (prompt.kind == "attention") continue;
    absl::StrAppend(&md, "\n## ", prompt.kind == "top5" ? "Top-5 after " : "",
                    "「", prompt.text, "」\n\n");
    for (const VariantResult& v : results) {
      const std::string dir = out_dir + "/checkpoints/" + v.variant;
      TINYLM_ASSIGN_OR_RETURN(LoadedCheckpoint ckpt,
                              LoadCheckpoint(dir, c10::kCPU, at::kFloat));
      TINYLM_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                              Tokenizer::Load(ckpt.tokenizer_path));
      absl::StrAppend(&md, "**", v.variant, "**\n\n");
      if (prompt.kind == "continue") {
        TINYLM_ASSIGN_OR_RETURN(
            std::string text,
            Continue(ckpt.model, *tokenizer, prompt.text, 48, params));
        absl::StrAppend(&md, "> ", text, "\n\n");
      } else {
        TINYLM_ASSIGN_OR_RETURN(
            std::vector<NextToken> top,
            MostProbableNext(ckpt.model, *tokenizer, prompt.text, 5));
        absl::StrAppend(&md, "```\n");
        for (const NextToken& t : top) {
          absl::StrAppendFormat(&md, "p:%.2f, %s\n", t.probability, t.piece);
        }
        absl::StrAppend(&md, "```\n\n");
      }
    }
  }
  return md;
}

// The variants a study trains: those of --variants, or all four.
std::vector<std::string> StudyVariants(const std::vector<std::string>& flag) {
  return flag.empty() ? VariantNames() : flag;
}

std::string RunDir(const std::string& study_dir, const std::string& variant) {
  return study_dir + "/runs/" + variant;
}

std::vector<LossCurves> CurvesOf(const std::string& out_dir,
                                 const std::vector<std::string>& variants) {
  std::vector<LossCurves> curves;
  for (const std::string& v : variants) {
    absl::StatusOr<std::vector<MetricsRow>> rows =
        ReadMetricsCsv(RunDir(out_dir, v) + "/metrics.csv");
    if (rows.ok()) curves.push_back({v, *std::move(rows)});
  }
  return curves;
}

// Trains one variant into o.out_dir. Continuing a study (o.resume), a
// finished run is reported from its result.json, a saved one continued,
// and anything else started over.
absl::StatusOr<TrainResult> TrainVariant(TrainOptions o) {
  if (o.resume) {
    absl::StatusOr<TrainResult> finished = ReadTrainResult(o.out_dir);
    if (finished.ok() && finished->steps == o.max_steps) return finished;
    o.resume = HoldsResumableRun(o.out_dir);
    o.overwrite = !o.resume;
  }
  return TrainAndReport(o);
}

}  // namespace

absl::Status RunPlotCommand(const std::string& study_dir) {
  const std::vector<LossCurves> curves = CurvesOf(study_dir, VariantNames());
  if (curves.empty()) {
    return absl::NotFoundError(absl::StrCat(
        QuotePath(study_dir + "/runs/*/metrics.csv"), ": no metrics found"));
  }
  TINYLM_RETURN_IF_ERROR(
      DrawLossCurves(curves, study_dir + "/loss_curves.png"));
  std::printf("wrote %s/loss_curves.png\n", study_dir.c_str());
  return absl::OkStatus();
}

absl::Status CheckStudyOptions(const TrainOptions& options,
                               const std::vector<std::string>& variants_flag) {
  if (options.launch.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WORLD_SIZE=", options.launch->world_size,
        ": `study` runs in one process; for data parallel, launch `train` "
        "once per variant"));
  }
  for (const std::string& variant : variants_flag) {
    TINYLM_RETURN_IF_ERROR(
        CheckFlagChoice("variants", variant, VariantNames()));
  }
  TINYLM_RETURN_IF_ERROR(CheckTrainInputs(options));
  if (options.resume || options.overwrite) return absl::OkStatus();
  std::vector<std::string> earlier;
  for (const std::string& variant : StudyVariants(variants_flag)) {
    if (HoldsRun(RunDir(options.out_dir, variant))) earlier.push_back(variant);
  }
  if (earlier.empty()) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      "--out=", QuotePath(options.out_dir), " already holds runs of ",
      absl::StrJoin(earlier, ", "),
      "; pass --resume to continue the study (finished runs are kept) or "
      "--overwrite to train every variant again"));
}

absl::Status RunStudyCommand(const TrainOptions& options,
                             const std::vector<std::string>& variants_flag,
                             const std::string& prompts_flag) {
  TINYLM_RETURN_IF_ERROR(CheckStudyOptions(options, variants_flag));
  const std::vector<std::string> variants = StudyVariants(variants_flag);
  const std::string prompts_path =
      prompts_flag.empty()
          ? std::string(TINYLM_SOURCE_DIR) + "/train/article_prompts.tsv"
          : prompts_flag;
  TINYLM_ASSIGN_OR_RETURN(std::vector<Prompt> prompts,
                          ReadPrompts(prompts_path));
  std::vector<VariantResult> results;
  nlohmann::json table = nlohmann::json::array();
  for (const std::string& variant : variants) {
    TrainOptions o = options;
    TINYLM_RETURN_IF_ERROR(ApplyVariant(variant, o.config));
    o.out_dir = RunDir(options.out_dir, variant);
    std::printf("== %s: %lld parameters\n", variant.c_str(),
                static_cast<long long>(o.config.ParameterCount()));
    absl::StatusOr<TrainResult> r = TrainVariant(o);
    if (!r.ok()) return r.status();
    results.push_back({variant, *r});
    TINYLM_RETURN_IF_ERROR(Export(o, results.back(), o.out_dir,
                                  options.out_dir + "/checkpoints/" + variant));
    table.push_back(Summary(o, *r));
    table.back()["variant"] = variant;
    table.back()["parameters"] = r->parameters;
  }
  TINYLM_RETURN_IF_ERROR(
      WriteFile(options.out_dir + "/study.md", Table(results)));
  TINYLM_RETURN_IF_ERROR(
      WriteFile(options.out_dir + "/study.json", table.dump(2) + "\n"));
  absl::Status plotted = RunPlotCommand(options.out_dir);
  if (!plotted.ok()) {
    std::fprintf(stderr, "warning: %s\n",
                 std::string(plotted.message()).c_str());
  }
  TINYLM_ASSIGN_OR_RETURN(std::string samples,
                          Samples(options.out_dir, results, prompts));
  TINYLM_RETURN_IF_ERROR(WriteFile(options.out_dir + "/samples.md", samples));
  std::vector<AttentionReportModel> models;
  for (const VariantResult& v : results) {
    models.push_back({v.variant, options.out_dir + "/checkpoints/" + v.variant});
  }
  std::vector<std::string> texts;
  for (const Prompt& prompt : prompts) texts.push_back(prompt.text);
  TINYLM_ASSIGN_OR_RETURN(AttentionReport report,
                          MeasureAttention(models, texts));
  TINYLM_RETURN_IF_ERROR(
      WriteFile(options.out_dir + "/attention_stats.md", report.markdown));
  TINYLM_RETURN_IF_ERROR(WriteFile(options.out_dir + "/attention_stats.json",
                                   report.stats_json));
  return WriteFile(options.out_dir + "/attention_maps.json", report.maps_json);
}

}  // namespace tinylm
