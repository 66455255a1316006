// tinylm score TEXT: how well each model predicts each token of TEXT
// (--models, or --model, default all). Per model, the mean loss and
// perplexity and the text with every token on a background coloured by its
// loss (on a terminal; elsewhere each token is followed by its loss in
// brackets); with several models that tokenize alike, a table of the
// per-token losses and which model predicts each token best; --png=FILE
// draws the coloured texts one above the other; --json prints it all.
// --ablate / --patch score the intervened models and report the effect.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/command.h"
#include "client/interventions.h"
#include "client/pictures/attention_picture.h"
#include "client/pictures/canvas.h"
#include "client/pictures/colour_scale.h"
#include "client/pictures/token_text.h"
#include "client/text/display_width.h"
#include "client/text/inspection_text.h"
#include "client/text/json_output.h"

namespace tinylm {
namespace {

// Losses this large or more get the darkest colour.
double ScaleMax(const v1::ScoreResponse& response) {
  double most = 1.0;
  for (const v1::ModelScore& r : response.results()) {
    for (const v1::TokenScore& t : r.tokens()) {
      if (t.has_logprob()) most = std::max(most, double(-t.logprob()));
    }
  }
  return std::ceil(most);
}

std::string Heading(const v1::ModelScore& r) {
  std::string line = absl::StrFormat(
      "%s: %d tokens, mean loss %.3f nats, perplexity %.1f", r.model(),
      r.tokens_size(), r.mean_loss(), r.perplexity());
  if (r.has_effect()) {
    absl::StrAppend(&line, absl::StrFormat(" (without the interventions "
                                           "%.3f)",
                                           r.clean_mean_loss()));
  }
  return line;
}

// 24-bit ANSI backgrounds in the pictures' colour scale.
std::string Coloured(const v1::ModelScore& r, double scale_max, bool colour) {
  std::string out;
  for (const v1::TokenScore& t : r.tokens()) {
    const std::string piece = EscapeControls(t.piece());
    if (!colour) {
      out += t.has_logprob()
                 ? absl::StrFormat("%s[%.2f]", piece, -t.logprob())
                 : absl::StrCat(piece, "[-]");
      continue;
    }
    if (!t.has_logprob()) {
      absl::StrAppend(&out, "\x1b[48;2;217;217;217m\x1b[38;2;26;26;26m",
                      piece, "\x1b[0m");
      continue;
    }
    const Rgb fill = ColourAt(-t.logprob() / scale_max);
    const Rgb ink = TextColourOn(fill);
    absl::StrAppend(
        &out,
        absl::StrFormat("\x1b[48;2;%d;%d;%dm\x1b[38;2;%d;%d;%dm",
                        int(fill.r * 255), int(fill.g * 255),
                        int(fill.b * 255), int(ink.r * 255),
                        int(ink.g * 255), int(ink.b * 255)),
        piece, "\x1b[0m");
  }
  return out;
}

nlohmann::json ScoreJson(const v1::ScoreResponse& response) {
  nlohmann::json results = nlohmann::json::array();
  for (const v1::ModelScore& r : response.results()) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const v1::TokenScore& t : r.tokens()) {
      nlohmann::json token = {{"id", t.id()}, {"piece", t.piece()}};
      if (t.has_logprob()) token["logprob"] = t.logprob();
      if (t.has_clean_logprob()) {
        token["clean_logprob"] = t.clean_logprob();
        token["kl"] = t.kl();
      }
      tokens.push_back(token);
    }
    nlohmann::json out = {{"model", r.model()},
                          {"mean_loss", r.mean_loss()},
                          {"perplexity", r.perplexity()},
                          {"tokens", tokens}};
    if (r.has_effect()) {
      out["clean_mean_loss"] = r.clean_mean_loss();
      out["effect"] = EffectJson(r.effect());
    }
    results.push_back(out);
  }
  nlohmann::json comparison = nlohmann::json::array();
  for (const v1::TokenComparison& c : response.comparison()) {
    comparison.push_back({{"position", c.position()},
                          {"logprobs", std::vector<float>(
                                           c.logprobs().begin(),
                                           c.logprobs().end())},
                          {"best", response.results(c.best()).model()},
                          {"spread", c.spread()}});
  }
  return {{"results", results},
          {"comparable", response.comparable()},
          {"comparison", comparison}};
}

absl::Status WritePicture(const v1::ScoreResponse& response,
                          const std::string& text, const CliOptions& o) {
  TokenTextSpec spec;
  spec.title = absl::StrCat("per-token loss — ", ShortPrompt(text));
  spec.font_family = ChooseFont(o.font);
  spec.scale_max = ScaleMax(response);
  for (const v1::ModelScore& r : response.results()) {
    TokenTextParagraph p;
    p.title = Heading(r);
    for (const v1::TokenScore& t : r.tokens()) {
      p.pieces.push_back(t.piece());
      p.values.push_back(t.has_logprob() ? std::optional<float>(-t.logprob())
                                         : std::nullopt);
    }
    spec.paragraphs.push_back(std::move(p));
  }
  if (absl::Status s = WriteTokenTextPng(spec, o.png); !s.ok()) return s;
  std::cerr << "wrote " << o.png << std::endl;
  return absl::OkStatus();
}

}  // namespace

absl::Status RunScore(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> text = PromptText(context, "TEXT");
  if (!text.ok()) return text.status();
  v1::ScoreRequest request;
  for (const std::string& model : o.models) request.add_models(model);
  if (o.models.empty() && !o.model.empty()) request.add_models(o.model);
  request.set_text(*text);
  if (absl::Status s = SetInterventions(o, &request); !s.ok()) return s;

  absl::StatusOr<v1::ScoreResponse> response = Call(
      context.Settings(), *context.stub, &v1::TinyLM::Stub::Score, request);
  if (!response.ok()) return response.status();
  if (o.json) {
    PrintJson(ScoreJson(*response));
  } else {
    const bool colour = isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") ==
                                                     nullptr;
    const double scale_max = ScaleMax(*response);
    for (const v1::ModelScore& r : response->results()) {
      std::cout << Heading(r) << "\n" << Coloured(r, scale_max, colour)
                << "\n";
      if (r.has_effect()) {
        std::cout << "effect: " << FormatEffect(r.effect()) << "\n";
      }
      std::cout << "\n";
    }
    if (response->comparable()) {
      std::cout << "loss per token (nats):\n"
                << ScoreTable(*response).Render(
                       o.width > 0 ? o.width : TerminalWidth());
    }
    std::cout << std::flush;
  }
  if (o.png.empty()) return absl::OkStatus();
  return WritePicture(*response, *text, o);
}

}  // namespace tinylm
