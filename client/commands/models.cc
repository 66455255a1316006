// tinylm models: the server's models with their variant, size and
// checkpoint, as a table or JSON.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/command.h"
#include "client/text/json_output.h"
#include "client/text/text_table.h"

namespace tinylm {
namespace {

std::string Parameters(uint64_t n) {
  if (n >= 1000000) return absl::StrFormat("%.1fM", n / 1e6);
  if (n >= 1000) return absl::StrFormat("%.1fK", n / 1e3);
  return absl::StrCat(n);
}

nlohmann::json ModelJson(const v1::ModelInfo& m) {
  const v1::ModelDims& d = m.dims();
  nlohmann::json training = nullptr;
  if (!m.training_json().empty()) {
    training = nlohmann::json::parse(m.training_json(), nullptr,
                                     /*allow_exceptions=*/false);
    if (training.is_discarded()) training = m.training_json();
  }
  return {{"name", m.name()},
          {"variant", m.variant()},
          {"flags",
           {{"qkv_bias", m.flags().qkv_bias()},
            {"qkv_activation", m.flags().qkv_activation()},
            {"separate_qkv", m.flags().separate_qkv()},
            {"score_fcn", m.flags().score_fcn()}}},
          {"parameters", JsonUint64(m.parameters())},
          {"dims",
           {{"vocab_size", d.vocab_size()},
            {"n_embd", d.n_embd()},
            {"n_layer", d.n_layer()},
            {"n_head", d.n_head()},
            {"n_query_groups", d.n_query_groups()},
            {"intermediate_size", d.intermediate_size()}}},
          {"context_length", m.context_length()},
          {"device", m.device()},
          {"dtype", m.dtype()},
          {"checkpoint_sha256", m.checkpoint_sha256()},
          {"max_batch", m.max_batch()},
          {"training", training}};
}

}  // namespace

absl::Status RunModels(CommandContext& context) {
  absl::StatusOr<std::vector<v1::ModelInfo>> models = ListModels(context);
  if (!models.ok()) return models.status();
  if (context.options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::ModelInfo& m : *models) out.push_back(ModelJson(m));
    PrintJson(out);
    return absl::OkStatus();
  }
  // The columns a comparison needs; --json has every field.
  TextTable table({"name", "variant", "params", "layers", "heads", "context",
                   "device", "dtype", "sha256"});
  for (const v1::ModelInfo& m : *models) {
    const v1::ModelDims& d = m.dims();
    table.AddRow({m.name(), m.variant(), Parameters(m.parameters()),
                  absl::StrCat(d.n_layer()), absl::StrCat(d.n_head()),
                  absl::StrCat(m.context_length()), m.device(), m.dtype(),
                  m.checkpoint_sha256().substr(0, 12)});
  }
  const int width =
      context.options.width > 0 ? context.options.width : TerminalWidth();
  std::cout << table.Render(width) << std::flush;
  return absl::OkStatus();
}

}  // namespace tinylm
