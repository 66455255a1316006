// tinylm topk PROMPT: the --k most probable next tokens, in the article's
// form ("p:0.33, 町") or as JSON; with --ablate / --patch, the lists without
// and with the interventions and their effect.
#include <iostream>

#include "client/command.h"
#include "client/interventions.h"
#include "client/text/json_output.h"
#include "client/text/topk_format.h"

namespace tinylm {

absl::Status RunTopK(CommandContext& context) {
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  v1::TopKRequest request;
  request.set_model(*model);
  request.set_k(context.options.k);
  if (absl::Status s = SetPrompt(context, &request); !s.ok()) return s;
  if (absl::Status s = SetInterventions(context.options, &request); !s.ok()) {
    return s;
  }

  absl::StatusOr<v1::TopKResponse> response =
      Call(context.Settings(), *context.stub, &v1::TinyLM::Stub::TopK, request);
  if (!response.ok()) return response.status();
  const bool intervened = response->has_effect();
  if (context.options.json) {
    nlohmann::json out = {{"model", *model},
                          {"prompt_tokens", response->prompt_tokens()},
                          {"tokens", TopKJson(response->tokens())}};
    if (intervened) {
      out["clean_tokens"] = TopKJson(response->clean_tokens());
      out["effect"] = EffectJson(response->effect());
    }
    PrintJson(out);
  } else if (intervened) {
    std::cout << "without the interventions:\n"
              << FormatTopK(response->clean_tokens())
              << "with the interventions:\n"
              << FormatTopK(response->tokens())
              << "effect: " << FormatEffect(response->effect()) << std::endl;
  } else {
    std::cout << FormatTopK(response->tokens()) << std::flush;
  }
  return absl::OkStatus();
}

}  // namespace tinylm
