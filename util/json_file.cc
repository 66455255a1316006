#include "util/json_file.h"

#include "absl/strings/str_cat.h"
#include "util/file_io.h"
#include "util/quote.h"
#include "util/status_macros.h"

namespace tinylm {

absl::StatusOr<nlohmann::json> ReadJsonObject(const std::string& path) {
  TINYLM_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not valid JSON: ", e.what()));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a JSON object"));
  }
  return json;
}

std::string QuoteJson(const nlohmann::json& value) {
  return Quote(value.is_string() ? value.get<std::string>() : value.dump());
}

}  // namespace tinylm
