// ValidInterventions (validate_inspection.h).
#include <string>

#include "absl/strings/str_cat.h"
#include "server/rpc/validate_fields.h"
#include "server/rpc/validate_inspection.h"
#include "util/quote.h"

namespace tinylm {
namespace {

using Action = InterventionSpec::Action;

absl::Status CheckLayer(const std::string& field, uint32_t layer,
                        const ServedModel& model) {
  const int64_t layers = model.config.n_layer;
  if (layer < layers) return absl::OkStatus();
  return Invalid(field, absl::StrCat("layer ", layer, " does not exist (model ",
                                     Quote(model.name), " has ", layers,
                                     " layers)"));
}

// Heads of the spec: only where the site acts per head.
absl::Status SetHeads(const std::string& field,
                      const google::protobuf::RepeatedField<uint32_t>& heads,
                      bool per_head, const ServedModel& model,
                      InterventionSpec& spec) {
  if (heads.empty()) return absl::OkStatus();
  if (!per_head) {
    return Invalid(field, absl::StrCat("only ",
                                       spec.action == Action::kPatch
                                           ? "ATTENTION_PATTERN"
                                           : "HEAD_OUTPUT",
                                       " acts on chosen heads"));
  }
  TINYLM_ASSIGN_OR_RETURN(
      spec.heads, Indices(field, heads, model.config.n_head, "head", model));
  return absl::OkStatus();
}

absl::StatusOr<InterventionSpec> FromAblation(const std::string& field,
                                              const v1::Ablation& in,
                                              const ServedModel& model) {
  InterventionSpec spec;
  switch (in.site()) {
    case v1::INTERVENTION_SITE_HEAD_OUTPUT:
      spec.point = HookPoint::kHeadOutputs;
      break;
    case v1::INTERVENTION_SITE_ATTENTION_OUTPUT:
      spec.point = HookPoint::kAttentionOutput;
      break;
    case v1::INTERVENTION_SITE_MLP_OUTPUT:
      spec.point = HookPoint::kMlpOutput;
      break;
    default:
      return Invalid(field + ".site",
                     absl::StrCat("an ablation acts on HEAD_OUTPUT, "
                                  "ATTENTION_OUTPUT or MLP_OUTPUT, got ",
                                  v1::InterventionSite_Name(in.site())));
  }
  switch (in.mode()) {
    case v1::ABLATION_MODE_UNSPECIFIED:
    case v1::ABLATION_MODE_ZERO:
      spec.action = Action::kZero;
      break;
    case v1::ABLATION_MODE_MEAN:
      spec.action = Action::kMean;
      break;
    default:
      return Invalid(field + ".mode", absl::StrCat("unknown value ", in.mode()));
  }
  TINYLM_RETURN_IF_ERROR(CheckLayer(field + ".layer", in.layer(), model));
  spec.layer = in.layer();
  TINYLM_RETURN_IF_ERROR(
      SetHeads(field + ".heads", in.heads(),
               spec.point == HookPoint::kHeadOutputs, model, spec));
  return spec;
}

absl::StatusOr<InterventionSpec> FromPatch(const std::string& field,
                                           const v1::Patch& in,
                                           int64_t prompt_tokens,
                                           const ServedModel& model,
                                           const ServiceLimits& limits) {
  InterventionSpec spec;
  spec.action = Action::kPatch;
  switch (in.site()) {
    case v1::INTERVENTION_SITE_RESIDUAL:
      spec.point = HookPoint::kResidual;
      break;
    case v1::INTERVENTION_SITE_ATTENTION_PATTERN:
      spec.point = HookPoint::kAttentionPattern;
      break;
    default:
      return Invalid(field + ".site",
                     absl::StrCat("a patch acts on RESIDUAL or "
                                  "ATTENTION_PATTERN, got ",
                                  v1::InterventionSite_Name(in.site())));
  }
  TINYLM_RETURN_IF_ERROR(CheckLayer(field + ".layer", in.layer(), model));
  spec.layer = in.layer();
  TINYLM_RETURN_IF_ERROR(
      SetHeads(field + ".heads", in.heads(),
               spec.point == HookPoint::kAttentionPattern, model, spec));
  std::string source_field;
  switch (in.source_case()) {
    case v1::Patch::kSourceText: {
      source_field = field + ".source_text";
      TINYLM_ASSIGN_OR_RETURN(
          spec.source,
          EncodeText(source_field, in.source_text(), model, limits));
      break;
    }
    case v1::Patch::kSourceTokenIds: {
      source_field = field + ".source_token_ids";
      TINYLM_ASSIGN_OR_RETURN(
          spec.source,
          IdList(source_field, in.source_token_ids().ids(), model, limits));
      break;
    }
    default:
      return Invalid(field + ".source",
                     "set source_text or source_token_ids");
  }
  if (int64_t(spec.source.size()) != prompt_tokens) {
    return Invalid(source_field,
                   absl::StrCat(spec.source.size(), " tokens, but the prompt "
                                "has ", prompt_tokens, "; a patch source "
                                "must have as many tokens as the prompt"));
  }
  for (int i = 0; i < in.positions_size(); ++i) {
    if (in.positions(i) >= prompt_tokens) {
      return Invalid(absl::StrCat(field, ".positions[", i, "]"),
                     absl::StrCat("position ", in.positions(i),
                                  " is past the prompt's ", prompt_tokens,
                                  " tokens"));
    }
    spec.positions.push_back(in.positions(i));
  }
  return spec;
}

}  // namespace

absl::StatusOr<std::vector<InterventionSpec>> ValidInterventions(
    const google::protobuf::RepeatedPtrField<v1::Intervention>& in,
    int64_t prompt_tokens, const ServedModel& model,
    const ServiceLimits& limits) {
  if (in.size() > limits.max_interventions) {
    return Invalid("interventions",
                   absl::StrCat(in.size(), " exceed the limit of ",
                                limits.max_interventions,
                                " (--max_interventions)"));
  }
  std::vector<InterventionSpec> out;
  for (int i = 0; i < in.size(); ++i) {
    const std::string field = absl::StrCat("interventions[", i, "]");
    switch (in[i].kind_case()) {
      case v1::Intervention::kAblate: {
        TINYLM_ASSIGN_OR_RETURN(
            InterventionSpec spec,
            FromAblation(field + ".ablate", in[i].ablate(), model));
        out.push_back(std::move(spec));
        break;
      }
      case v1::Intervention::kPatch: {
        TINYLM_ASSIGN_OR_RETURN(InterventionSpec spec,
                                FromPatch(field + ".patch", in[i].patch(),
                                          prompt_tokens, model, limits));
        out.push_back(std::move(spec));
        break;
      }
      default:
        return Invalid(field, "set ablate or patch");
    }
  }
  return out;
}

}  // namespace tinylm
