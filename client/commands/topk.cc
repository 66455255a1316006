// tinylm topk PROMPT: the --k most probable next tokens, in the article's
// form ("p:0.33, 町") or as JSON.
#include <iostream>

#include "client/command.h"
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

  absl::StatusOr<v1::TopKResponse> response =
      Call(context.Settings(), *context.stub, &v1::TinyLM::Stub::TopK, request);
  if (!response.ok()) return response.status();
  if (context.options.json) {
    PrintJson({{"model", *model},
               {"prompt_tokens", response->prompt_tokens()},
               {"tokens", TopKJson(response->tokens())}});
  } else {
    std::cout << FormatTopK(response->tokens()) << std::flush;
  }
  return absl::OkStatus();
}

}  // namespace tinylm
