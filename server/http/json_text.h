// JSON serialized for an HTTP body.
#ifndef TINYLM_SERVER_HTTP_JSON_TEXT_H_
#define TINYLM_SERVER_HTTP_JSON_TEXT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace tinylm {

// What responses carry: with the charset parameter cpp-httplib leaves the
// body uncompressed (it compresses only the bare type), so that replies go
// out as produced, as over gRPC.
inline constexpr char kJsonReplyType[] = "application/json; charset=utf-8";

// Compact; bytes that are not valid UTF-8 (quoted user input in a message)
// become U+FFFD instead of failing.
inline std::string DumpJson(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_JSON_TEXT_H_
