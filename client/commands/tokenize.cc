// tinylm tokenize TEXT: how the model's tokenizer splits TEXT: a table of
// position, id and vocabulary piece, or JSON.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/command.h"
#include "client/text/display_width.h"
#include "client/text/json_output.h"
#include "client/text/text_table.h"

namespace tinylm {

absl::Status RunTokenize(CommandContext& context) {
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  absl::StatusOr<std::string> text = PromptText(context, "TEXT");
  if (!text.ok()) return text.status();
  v1::TokenizeRequest request;
  request.set_model(*model);
  request.set_text(*text);

  absl::StatusOr<v1::TokenizeResponse> response = Call(
      context.Settings(), *context.stub, &v1::TinyLM::Stub::Tokenize, request);
  if (!response.ok()) return response.status();
  if (context.options.json) {
    PrintJson({{"model", *model},
               {"ids", std::vector<int32_t>(response->ids().begin(),
                                            response->ids().end())},
               {"pieces", std::vector<std::string>(response->pieces().begin(),
                                                   response->pieces().end())}});
    return absl::OkStatus();
  }
  TextTable table({"#", "id", "piece"});
  for (int i = 0; i < response->ids_size(); ++i) {
    const std::string piece =
        i < response->pieces_size() ? response->pieces(i) : "";
    table.AddRow({absl::StrCat(i), absl::StrCat(response->ids(i)),
                  EscapeControls(piece)});
  }
  const int width =
      context.options.width > 0 ? context.options.width : TerminalWidth();
  std::cout << table.Render(width) << response->ids_size() << " tokens"
            << std::endl;
  return absl::OkStatus();
}

}  // namespace tinylm
