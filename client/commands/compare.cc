// tinylm compare PROMPT: one prompt through several models (--models,
// default all): their continuations and top-k next tokens side by side in
// a table that fits the terminal, then their attention entropy layer by
// layer (with --stats every head's attention statistics), or all of it as
// JSON; with --png=FILE also their last-layer heatmaps side by side in one
// picture.
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/command.h"
#include "client/pictures/attention_picture.h"
#include "client/text/display_width.h"
#include "client/text/entropy_table.h"
#include "client/text/inspection_text.h"
#include "client/text/json_output.h"
#include "client/text/text_table.h"
#include "client/text/topk_format.h"
#include "proto/finish_reason.h"

namespace tinylm {
namespace {

nlohmann::json ComparisonJson(const v1::ModelComparison& c) {
  return {
      {"model", c.model()},
      {"continuation", c.continuation()},
      {"continuation_ids", std::vector<int32_t>(c.continuation_ids().begin(),
                                                c.continuation_ids().end())},
      {"finish_reason", FinishReasonLabel(c.finish_reason())},
      {"prompt_tokens", c.prompt_tokens()},
      {"top_k", TopKJson(c.top_k())},
      {"attention_entropy", std::vector<float>(c.attention_entropy().begin(),
                                               c.attention_entropy().end())},
      {"attention_stats", StatsJson(c.attention_stats())}};
}

// Text for a table cell: its line breaks kept, other controls escaped.
std::string CellText(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    lines.push_back(EscapeControls(line));
  }
  return absl::StrJoin(lines, "\n");
}

void PrintTable(const v1::CompareResponse& response, const std::string& prompt,
                uint32_t k, int width) {
  std::vector<std::string> header = {""};
  std::vector<std::string> continuation = {"continuation"};
  std::vector<std::string> top = {absl::StrCat("top-", k)};
  std::vector<std::string> finish = {"finish"};
  for (const v1::ModelComparison& c : response.results()) {
    header.push_back(c.model());
    continuation.push_back(CellText(c.continuation()));
    std::string lines = FormatTopK(c.top_k());
    if (!lines.empty()) lines.pop_back();  // the last '\n'
    top.push_back(lines);
    finish.push_back(absl::StrCat(FinishReasonLabel(c.finish_reason()), ", ",
                                  c.continuation_ids_size(), " tokens"));
  }
  TextTable table(header);
  for (auto* row : {&continuation, &top, &finish}) {
    table.AddRow(*row);
  }
  std::cout << "prompt: " << EscapeControls(prompt) << "\n"
            << "seed: " << response.seed() << "\n\n"
            << table.Render(width);
  if (std::optional<TextTable> entropy = EntropyTable(response)) {
    std::cout << "\nattention entropy (nats) by layer:\n"
              << entropy->Render(width);
  }
  for (const v1::ModelComparison& c : response.results()) {
    if (c.attention_stats().empty()) continue;
    std::cout << "\n" << c.model()
              << ": attention statistics (means over the query rows)\n"
              << StatsTable(c.attention_stats()).Render(width);
  }
  std::cout << std::flush;
}

// The last layer of each model (head --head, default 0) in one picture.
absl::Status WriteComparisonPng(CommandContext& context,
                                const v1::CompareResponse& response,
                                const std::string& prompt) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::vector<v1::ModelInfo>> infos = ListModels(context);
  if (!infos.ok()) return infos.status();
  HeatmapSpec spec;
  spec.title = absl::StrCat("last-layer attention — ", ShortPrompt(prompt));
  spec.font_family = ChooseFont(o.font);
  const uint32_t head = o.head.value_or(0);
  for (const v1::ModelComparison& c : response.results()) {
    uint32_t layers = 0;
    for (const v1::ModelInfo& info : *infos) {
      if (info.name() == c.model()) layers = info.dims().n_layer();
    }
    if (layers == 0) {
      return absl::NotFoundError(
          absl::StrCat("unknown model: ", c.model(), " is no longer listed"));
    }
    v1::AttentionMapsRequest request;
    request.set_model(c.model());
    request.set_text(prompt);
    request.add_layers(layers - 1);
    request.add_heads(head);
    absl::StatusOr<v1::AttentionMapsResponse> maps =
        Call(context.Settings(), *context.stub,
             &v1::TinyLM::Stub::AttentionMaps, request);
    if (!maps.ok()) return maps.status();
    absl::StatusOr<AttentionSet> set = DecodeAttention(c.model(), *maps);
    if (!set.ok()) return set.status();
    if (set->maps.size() != 1) {
      return absl::DataLossError(
          absl::StrCat("expected one attention map from ", c.model(), ", got ",
                       set->maps.size()));
    }
    spec.panels.push_back(MakePanel(
        *set, set->maps[0],
        absl::StrCat(c.model(), " (layer ", layers - 1, ", head ", head, ")")));
  }
  absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(spec, o.png);
  if (!layout.ok()) return layout.status();
  std::cerr << "wrote " << o.png << std::endl;
  return absl::OkStatus();
}

}  // namespace

absl::Status RunCompare(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> prompt = PromptText(context);
  if (!prompt.ok()) return prompt.status();
  v1::CompareRequest request;
  for (const std::string& model : o.models) request.add_models(model);
  request.set_prompt(*prompt);
  request.set_max_new_tokens(o.max_new_tokens);
  FillSampling(o.sampling, request.mutable_sampling());
  request.set_top_k(o.k);
  if (o.stats) request.mutable_attention_stats();

  absl::StatusOr<v1::CompareResponse> response = Call(
      context.Settings(), *context.stub, &v1::TinyLM::Stub::Compare, request);
  if (!response.ok()) return response.status();
  if (o.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const v1::ModelComparison& c : response->results()) {
      results.push_back(ComparisonJson(c));
    }
    PrintJson({{"prompt", *prompt},
               {"seed", JsonUint64(response->seed())},
               {"results", results}});
  } else {
    PrintTable(*response, *prompt, o.k,
               o.width > 0 ? o.width : TerminalWidth());
  }
  if (o.png.empty()) return absl::OkStatus();
  return WriteComparisonPng(context, *response, *prompt);
}

}  // namespace tinylm
