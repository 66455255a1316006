#include "client/interventions.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/text/display_width.h"
#include "client/text/topk_format.h"

namespace tinylm {
namespace {

absl::Status Bad(absl::string_view flag, absl::string_view item,
                 absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", item, ": expected ", expected));
}

// "LAYER" or "LAYER.HEAD".
bool ParseLayerHead(absl::string_view text, uint32_t* layer,
                    std::vector<uint32_t>* heads) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], layer)) return false;
  if (parts.size() == 2) {
    uint32_t head;
    if (!absl::SimpleAtoi(parts[1], &head)) return false;
    heads->push_back(head);
  }
  return true;
}

absl::StatusOr<v1::Intervention> Ablation(const std::string& item) {
  constexpr char kForm[] =
      "KIND:LAYER[.HEAD][:mean] with KIND head, attn or mlp";
  const std::vector<std::string> parts = absl::StrSplit(item, ':');
  v1::Intervention out;
  v1::Ablation* a = out.mutable_ablate();
  if (parts.size() < 2 || parts.size() > 3) return Bad("ablate", item, kForm);
  if (parts[0] == "head") {
    a->set_site(v1::INTERVENTION_SITE_HEAD_OUTPUT);
  } else if (parts[0] == "attn") {
    a->set_site(v1::INTERVENTION_SITE_ATTENTION_OUTPUT);
  } else if (parts[0] == "mlp") {
    a->set_site(v1::INTERVENTION_SITE_MLP_OUTPUT);
  } else {
    return Bad("ablate", item, kForm);
  }
  uint32_t layer;
  std::vector<uint32_t> heads;
  if (!ParseLayerHead(parts[1], &layer, &heads)) {
    return Bad("ablate", item, kForm);
  }
  a->set_layer(layer);
  for (uint32_t h : heads) a->add_heads(h);
  if (parts.size() == 3) {
    if (parts[2] != "mean" && parts[2] != "zero") {
      return Bad("ablate", item, kForm);
    }
    a->set_mode(parts[2] == "mean" ? v1::ABLATION_MODE_MEAN
                                   : v1::ABLATION_MODE_ZERO);
  }
  return out;
}

absl::StatusOr<v1::Intervention> Patch(const std::string& item,
                                       const std::string& source) {
  constexpr char kForm[] =
      "KIND:LAYER[.HEAD][@POSITION] with KIND residual or pattern";
  const std::vector<std::string> at = absl::StrSplit(item, '@');
  const std::vector<std::string> parts = absl::StrSplit(at[0], ':');
  if (at.size() > 2 || parts.size() != 2) return Bad("patch", item, kForm);
  v1::Intervention out;
  v1::Patch* p = out.mutable_patch();
  if (parts[0] == "residual") {
    p->set_site(v1::INTERVENTION_SITE_RESIDUAL);
  } else if (parts[0] == "pattern") {
    p->set_site(v1::INTERVENTION_SITE_ATTENTION_PATTERN);
  } else {
    return Bad("patch", item, kForm);
  }
  uint32_t layer;
  std::vector<uint32_t> heads;
  if (!ParseLayerHead(parts[1], &layer, &heads)) {
    return Bad("patch", item, kForm);
  }
  p->set_layer(layer);
  for (uint32_t h : heads) p->add_heads(h);
  if (at.size() == 2) {
    uint32_t position;
    if (!absl::SimpleAtoi(at[1], &position)) return Bad("patch", item, kForm);
    p->add_positions(position);
  }
  p->set_source_text(source);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<v1::Intervention>> InterventionsFromFlags(
    const CliOptions& options) {
  std::vector<v1::Intervention> out;
  for (const std::string& item : options.ablate) {
    absl::StatusOr<v1::Intervention> i = Ablation(item);
    if (!i.ok()) return i.status();
    out.push_back(*std::move(i));
  }
  if (!options.patch.empty() && options.patch_prompt.empty()) {
    return absl::InvalidArgumentError(
        "--patch needs --patch_prompt, the prompt the patched activations "
        "come from");
  }
  for (const std::string& item : options.patch) {
    absl::StatusOr<v1::Intervention> i = Patch(item, options.patch_prompt);
    if (!i.ok()) return i.status();
    out.push_back(*std::move(i));
  }
  return out;
}

std::string FormatEffect(const v1::InterventionEffect& e) {
  if (e.max_logit_change() == 0.0f) {
    return absl::StrCat("the interventions changed nothing (no logit moved ",
                        "over ", e.positions(), " positions)");
  }
  std::string line = absl::StrFormat(
      "KL %.4f nats (max %.4f) over %d position%s; ", e.mean_kl(), e.max_kl(),
      e.positions(), e.positions() == 1 ? "" : "s");
  absl::StrAppend(
      &line,
      absl::StrFormat("top token \"%s\" p=%.2f -> \"%s\" p=%.2f",
                      EscapeControls(e.clean_top().piece()),
                      e.clean_top().probability(),
                      EscapeControls(e.intervened_top().piece()),
                      e.intervened_top().probability()));
  if (e.positions() > 1) {
    absl::StrAppend(&line, "; the top token changed at ", e.top_changed(),
                    " of ", e.positions());
  }
  return line;
}

nlohmann::json EffectJson(const v1::InterventionEffect& e) {
  TokenProbabilities tops;
  *tops.Add() = e.clean_top();
  *tops.Add() = e.intervened_top();
  const nlohmann::json pair = TopKJson(tops);
  return {{"mean_kl", e.mean_kl()},
          {"max_kl", e.max_kl()},
          {"positions", e.positions()},
          {"top_changed", e.top_changed()},
          {"max_logit_change", e.max_logit_change()},
          {"clean_top", pair[0]},
          {"intervened_top", pair[1]}};
}

}  // namespace tinylm
