#include "train/attention_report.h"

#include <array>
#include <cmath>
#include <memory>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/attention_measures.h"
#include "models/checkpoint.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"
#include "util/status_macros.h"

namespace tinylm {
namespace {

// The report's measures: the four row measures, the diagonal over each
// half of a text's queries, and the mass on 「、」 keys.
enum Measure {
  kMeasureEntropy,
  kMeasureFirstToken,
  kMeasureDistance,
  kMeasureDiagonal,
  kMeasureDiagonalFirstHalf,
  kMeasureDiagonalSecondHalf,
  kMeasureCommaMass,
  kNumMeasures,
};

struct MeasureName {
  const char* key;    // in attention_stats.json
  const char* title;  // in attention_stats.md
};

constexpr std::array<MeasureName, kNumMeasures> kMeasureNames = {{
    {"entropy", "entropy (nats)"},
    {"first_token_mass", "mass on the first token"},
    {"mean_distance", "mean attention distance (positions)"},
    {"diagonal_mass", "mass on the diagonal (self-attention)"},
    {"diagonal_mass_first_half",
     "self-attention, queries in the first half of each text"},
    {"diagonal_mass_second_half",
     "self-attention, queries in the second half of each text"},
    {"comma_mass", "mass on 「、」 keys (queries at or after the first 、)"},
}};

// Means over query rows: a sum and a count per measure.
struct Means {
  std::array<double, kNumMeasures> sum{};
  std::array<int64_t, kNumMeasures> rows{};

  void Add(int measure, double value) {
    sum[measure] += value;
    ++rows[measure];
  }
  double Mean(int measure) const {
    return rows[measure] > 0 ? sum[measure] / rows[measure] : std::nan("");
  }
};

// Adds query row i of a text of T tokens whose first 「、」 is at
// `first_comma` (-1: none): `row` holds the four row measures and the comma
// mass of that row (the half-diagonal slots are filled here).
void AddRow(const std::array<double, kNumMeasures>& row, int64_t i,
            int64_t T, int64_t first_comma, Means& means) {
  for (int m = kMeasureEntropy; m <= kMeasureDiagonal; ++m) {
    means.Add(m, row[m]);
  }
  means.Add(2 * i < T ? kMeasureDiagonalFirstHalf : kMeasureDiagonalSecondHalf,
            row[kMeasureDiagonal]);
  if (first_comma >= 0 && i >= first_comma) {
    means.Add(kMeasureCommaMass, row[kMeasureCommaMass]);
  }
}

struct EncodedText {
  std::vector<int64_t> ids;
  std::vector<bool> comma;  // the key is 「、」
  int64_t first_comma = -1;
};

absl::StatusOr<EncodedText> Encode(const Tokenizer& tokenizer,
                                   int64_t block_size,
                                   const std::string& text) {
  EncodedText out;
  TINYLM_ASSIGN_OR_RETURN(out.ids, tokenizer.Encode(text));
  if (out.ids.empty() || int64_t(out.ids.size()) > block_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text of ", out.ids.size(), " tokens; need 1 to ", block_size));
  }
  for (size_t j = 0; j < out.ids.size(); ++j) {
    const bool comma =
        absl::StrContains(tokenizer.DisplayPiece(out.ids[j]), "、");
    out.comma.push_back(comma);
    if (comma && out.first_comma < 0) out.first_comma = j;
  }
  return out;
}

// What attention spread evenly over the visible keys 0..i would give.
void AddUniform(const EncodedText& text, Means& means) {
  const int64_t T = text.ids.size();
  int64_t commas = 0;
  for (int64_t i = 0; i < T; ++i) {
    commas += text.comma[i];
    const double n = i + 1;
    AddRow({std::log(n), 1 / n, i / 2.0, 1 / n, 0, 0, commas / n}, i, T,
           text.first_comma, means);
  }
}

// Adds every layer's rows of one text; returns the last layer's maps
// [H, T, T].
at::Tensor AddModelRows(Transformer& model, const EncodedText& text,
                        std::vector<Means>& layers) {
  const int64_t T = text.ids.size();
  ForwardInput in(at::tensor(text.ids, at::kLong).view({1, T}));
  in.return_attention = true;
  const std::vector<at::Tensor> attention = model->Forward(in).attention;
  const at::Tensor comma_keys =
      at::tensor(std::vector<int64_t>(text.comma.begin(), text.comma.end()),
                 at::kLong)
          .to(at::kBool);
  for (size_t l = 0; l < attention.size(); ++l) {
    const at::Tensor p = attention[l].select(0, 0).to(at::kFloat);  // [H,T,T]
    // [5, T]: the row measures and the comma mass, averaged over heads.
    const at::Tensor rows =
        at::cat({AttentionRowMeasures(p).mean(1),
                 AttentionMassOn(p, comma_keys).mean(0).unsqueeze(0)})
            .to(at::kDouble)
            .contiguous();
    const double* r = rows.data_ptr<double>();
    for (int64_t i = 0; i < T; ++i) {
      AddRow({r[kMeasureEntropy * T + i], r[kMeasureFirstToken * T + i],
              r[kMeasureDistance * T + i], r[kMeasureDiagonal * T + i], 0, 0,
              r[kNumAttentionMeasures * T + i]},
             i, T, text.first_comma, layers[l]);
    }
  }
  return attention.back().select(0, 0).to(at::kFloat);
}

nlohmann::json MapJson(const at::Tensor& maps) {  // [H, T, T]
  nlohmann::json heads = nlohmann::json::array();
  const at::Tensor m = maps.to(at::kDouble).contiguous();
  const int64_t H = m.size(0), T = m.size(1);
  const double* p = m.data_ptr<double>();
  for (int64_t h = 0; h < H; ++h) {
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t i = 0; i < T; ++i) {
      rows.push_back(std::vector<double>(p + (h * T + i) * T,
                                         p + (h * T + i + 1) * T));
    }
    heads.push_back(std::move(rows));
  }
  return heads;
}

std::string Markdown(const std::vector<AttentionReportModel>& models,
                     const std::vector<std::vector<Means>>& per_model,
                     const Means& uniform, int64_t texts, int64_t rows) {
  std::string md = absl::StrFormat(
      "Means over the %d query rows of %d texts (and over the heads); "
      "`uniform` is attention spread evenly over each query's visible "
      "keys.\n",
      rows, texts);
  for (int m = 0; m < kNumMeasures; ++m) {
    absl::StrAppend(&md, "\n#### ", kMeasureNames[m].title, "\n\n| layer |");
    for (const AttentionReportModel& model : models) {
      absl::StrAppend(&md, " ", model.variant, " |");
    }
    absl::StrAppend(&md, " uniform |\n| ---: |");
    for (size_t v = 0; v <= models.size(); ++v) absl::StrAppend(&md, " ---: |");
    absl::StrAppend(&md, "\n");
    for (size_t l = 0; l < per_model.front().size(); ++l) {
      absl::StrAppend(&md, "| ", l, " |");
      for (const std::vector<Means>& layers : per_model) {
        absl::StrAppendFormat(&md, " %.3f |", layers[l].Mean(m));
      }
      absl::StrAppendFormat(&md, " %.3f |\n", uniform.Mean(m));
    }
  }
  return md;
}

}  // namespace

absl::StatusOr<AttentionReport> MeasureAttention(
    const std::vector<AttentionReportModel>& models,
    const std::vector<std::string>& texts) {
  if (models.empty() || texts.empty()) {
    return absl::InvalidArgumentError("no models or no texts to measure");
  }
  torch::NoGradGuard no_grad;
  std::vector<std::vector<Means>> per_model;
  Means uniform;
  int64_t rows = 0;
  nlohmann::json maps = nlohmann::json::object();
  nlohmann::json first_tokens = nlohmann::json::array();
  for (size_t v = 0; v < models.size(); ++v) {
    TINYLM_ASSIGN_OR_RETURN(
        LoadedCheckpoint ckpt,
        LoadCheckpoint(models[v].checkpoint_dir, c10::kCPU, at::kFloat));
    TINYLM_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                            Tokenizer::Load(ckpt.tokenizer_path));
    std::vector<Means> layers(ckpt.model->config().n_layer);
    for (size_t t = 0; t < texts.size(); ++t) {
      TINYLM_ASSIGN_OR_RETURN(
          EncodedText text,
          Encode(*tokenizer, ckpt.model->config().block_size, texts[t]));
      const at::Tensor last = AddModelRows(ckpt.model, text, layers);
      if (v == 0) {
        AddUniform(text, uniform);
        rows += text.ids.size();
      }
      if (t == 0) maps[models[v].variant] = MapJson(last);
      if (t == 0 && v == 0) {
        for (int64_t id : text.ids) {
          first_tokens.push_back(tokenizer->DisplayPiece(id));
        }
      }
    }
    per_model.push_back(std::move(layers));
  }

  nlohmann::json measures = nlohmann::json::object();
  for (int m = 0; m < kNumMeasures; ++m) {
    nlohmann::json variants = nlohmann::json::object();
    for (size_t v = 0; v < models.size(); ++v) {
      std::vector<double> per_layer;
      for (const Means& layer : per_model[v]) per_layer.push_back(layer.Mean(m));
      variants[models[v].variant] = per_layer;
    }
    measures[kMeasureNames[m].key] = {{"uniform", uniform.Mean(m)},
                                      {"variants", variants}};
  }
  AttentionReport report;
  report.markdown =
      Markdown(models, per_model, uniform, int64_t(texts.size()), rows);
  report.stats_json =
      nlohmann::json{{"texts", texts}, {"query_rows", rows},
                     {"measures", measures}}
          .dump(2) +
      "\n";
  report.maps_json =
      nlohmann::json{{"text", texts.front()},
                     {"tokens", first_tokens},
                     {"layer", per_model.front().size() - 1},
                     {"maps", maps}}
          .dump() +
      "\n";
  return report;
}

}  // namespace tinylm
