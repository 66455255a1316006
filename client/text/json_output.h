// JSON on stdout. Dumping never throws: should a string hold invalid UTF-8,
// the bad bytes become U+FFFD.
#ifndef TINYLM_CLIENT_TEXT_JSON_OUTPUT_H_
#define TINYLM_CLIENT_TEXT_JSON_OUTPUT_H_

#include <cstdint>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tinylm {

// indent -1: one line (JSON Lines); 2: a readable document.
inline std::string DumpJson(const nlohmann::json& value, int indent = 2) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false,
                    nlohmann::json::error_handler_t::replace);
}

inline void PrintJson(const nlohmann::json& value, int indent = 2) {
  std::cout << DumpJson(value, indent) << std::endl;
}

// A uint64 field (a seed, a parameter count) as the proto3 JSON mapping
// writes 64-bit integers: a decimal string, because readers that hold
// every number as a double (JavaScript's JSON.parse) round past 2^53.
inline nlohmann::json JsonUint64(uint64_t value) { return absl::StrCat(value); }

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_JSON_OUTPUT_H_
