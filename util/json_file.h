// JSON files (config.json and its kind), read whole and parsed, with errors
// that name the path.
#ifndef TINYLM_UTIL_JSON_FILE_H_
#define TINYLM_UTIL_JSON_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tinylm {

// The JSON object in `path`: ReadFile's errors, or InvalidArgument when it
// is not valid JSON or not an object.
absl::StatusOr<nlohmann::json> ReadJsonObject(const std::string& path);

// A JSON value for a message, quoted as every user value is (quote.h): a
// string as its text, anything else as JSON text.
std::string QuoteJson(const nlohmann::json& value);

}  // namespace tinylm

#endif  // TINYLM_UTIL_JSON_FILE_H_
