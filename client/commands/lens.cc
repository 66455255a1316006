// tinylm lens PROMPT: the logit lens. For the prompt's last position (or
// --positions), the --k most probable next tokens that the final norm and
// the LM head read from the residual stream after the embeddings and after
// every block, with each layer's KL divergence from the final distribution:
// a table per position, or JSON; --png=FILE also draws them (layers x top
// tokens, probability as colour).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/command.h"
#include "client/pictures/attention_picture.h"
#include "client/pictures/token_grid.h"
#include "client/text/display_width.h"
#include "client/text/inspection_text.h"
#include "client/text/json_output.h"
#include "client/text/topk_format.h"

namespace tinylm {
namespace {

std::string PositionTitle(const v1::LogitLensResponse& r,
                          const v1::LensPosition& p) {
  return absl::StrCat("position ", p.position(), " (after \"",
                      EscapeControls(r.tokens(p.position())), "\")");
}

nlohmann::json LensJson(const std::string& model,
                        const v1::LogitLensResponse& r) {
  nlohmann::json positions = nlohmann::json::array();
  for (const v1::LensPosition& p : r.positions()) {
    nlohmann::json layers = nlohmann::json::array();
    for (const v1::LensLayer& l : p.layers()) {
      layers.push_back({{"layer", l.layer()},
                        {"tokens", TopKJson(l.tokens())},
                        {"kl_from_final", l.kl_from_final()},
                        {"final_top_probability", l.final_top_probability()}});
    }
    positions.push_back({{"position", p.position()}, {"layers", layers}});
  }
  return {{"model", model},
          {"tokens", std::vector<std::string>(r.tokens().begin(),
                                              r.tokens().end())},
          {"positions", positions}};
}

TokenGridPanel Panel(const v1::LogitLensResponse& r,
                     const v1::LensPosition& p) {
  TokenGridPanel panel;
  panel.title = PositionTitle(r, p);
  const int k = p.layers(0).tokens_size();
  for (int i = 1; i <= k; ++i) panel.column_labels.push_back(absl::StrCat(i));
  panel.note_header = "KL(final ‖ layer)";
  for (const v1::LensLayer& l : p.layers()) {
    panel.row_labels.push_back(l.layer() < 0 ? "embeddings"
                                             : absl::StrCat("block ", l.layer()));
    std::vector<std::string> pieces;
    std::vector<float> values;
    for (const v1::TokenProbability& t : l.tokens()) {
      pieces.push_back(t.piece());
      values.push_back(t.probability());
    }
    panel.pieces.push_back(std::move(pieces));
    panel.values.push_back(std::move(values));
    panel.notes.push_back(absl::StrFormat("%.3f", l.kl_from_final()));
  }
  return panel;
}

}  // namespace

absl::Status RunLens(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  v1::LogitLensRequest request;
  request.set_model(*model);
  request.set_k(o.k);
  for (uint32_t p : o.positions) request.add_positions(p);
  if (absl::Status s = SetPrompt(context, &request); !s.ok()) return s;

  absl::StatusOr<v1::LogitLensResponse> response = Call(
      context.Settings(), *context.stub, &v1::TinyLM::Stub::LogitLens, request);
  if (!response.ok()) return response.status();
  if (o.json) {
    PrintJson(LensJson(*model, *response));
  } else {
    const int width = o.width > 0 ? o.width : TerminalWidth();
    for (const v1::LensPosition& p : response->positions()) {
      std::cout << *model << ", " << PositionTitle(*response, p) << ":\n"
                << LensTable(p).Render(width) << "\n";
    }
    std::cout << std::flush;
  }
  if (o.png.empty()) return absl::OkStatus();
  TokenGridSpec spec;
  const std::string prompt =
      request.has_text() ? request.text()
                         : absl::StrCat(response->tokens_size(), " tokens");
  spec.title =
      absl::StrCat(*model, " — logit lens — ", ShortPrompt(prompt));
  spec.font_family = ChooseFont(o.font);
  for (const v1::LensPosition& p : response->positions()) {
    spec.panels.push_back(Panel(*response, p));
  }
  if (absl::Status s = WriteTokenGridPng(spec, o.png); !s.ok()) return s;
  std::cerr << "wrote " << o.png << std::endl;
  return absl::OkStatus();
}

}  // namespace tinylm
