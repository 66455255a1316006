// tinylm stats PROMPT: attention statistics of every layer and head over
// the prompt (means over the query rows: entropy, mass on the first token,
// mean attention distance, mass on the diagonal) as a table, with
// --top_keys=N each query's most attended keys, or JSON.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/command.h"
#include "client/text/display_width.h"
#include "client/text/inspection_text.h"
#include "client/text/json_output.h"

namespace tinylm {

absl::Status RunStats(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  v1::TopKRequest request;  // the statistics ride on a one-token TopK
  request.set_model(*model);
  request.set_k(1);
  request.mutable_attention_stats()->set_top_keys(o.top_keys);
  if (absl::Status s = SetPrompt(context, &request); !s.ok()) return s;

  absl::StatusOr<v1::TopKResponse> response =
      Call(context.Settings(), *context.stub, &v1::TinyLM::Stub::TopK, request);
  if (!response.ok()) return response.status();
  if (o.json) {
    PrintJson({{"model", *model},
               {"prompt_tokens", response->prompt_tokens()},
               {"attention_stats", StatsJson(response->attention_stats())}});
    return absl::OkStatus();
  }
  const int width = o.width > 0 ? o.width : TerminalWidth();
  std::cout << *model << ", " << response->prompt_tokens()
            << " prompt tokens (means over the query rows):\n"
            << StatsTable(response->attention_stats()).Render(width);
  for (const v1::HeadAttentionStats& s : response->attention_stats()) {
    if (s.top_keys().empty()) continue;
    std::cout << "\nlayer " << s.layer() << " head " << s.head()
              << ": most attended keys per query\n";
    for (const v1::QueryTopKeys& q : s.top_keys()) {
      std::vector<std::string> keys;
      for (int i = 0; i < q.keys_size(); ++i) {
        keys.push_back(absl::StrFormat("%d (%.2f)", q.keys(i), q.weights(i)));
      }
      std::cout << "  " << q.query() << ": " << absl::StrJoin(keys, ", ")
                << "\n";
    }
  }
  std::cout << std::flush;
  return absl::OkStatus();
}

}  // namespace tinylm
