#include "client/pictures/attention_data.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace tinylm {
namespace {

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// Little-endian bytes to the host's value (the wire format is
// little-endian; so are the machines this runs on, but say so once).
template <typename T>
T LoadLittleEndian(const char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "attention maps arrive little-endian");
  return value;
}

absl::StatusOr<std::vector<float>> DecodeMap(const v1::AttentionMap& map,
                                             size_t tokens) {
  const auto where = [&] {
    return absl::StrCat("attention map of layer ", map.layer(), " head ",
                        map.head());
  };
  if (map.shape_size() != 2 || map.shape(0) != tokens ||
      map.shape(1) != tokens) {
    return absl::DataLossError(
        absl::StrCat(where(), ": shape [", absl::StrJoin(map.shape(), ", "),
                     "] does not match the ", tokens, " tokens"));
  }
  const bool half = map.dtype() == v1::TENSOR_DTYPE_FLOAT16;
  if (!half && map.dtype() != v1::TENSOR_DTYPE_FLOAT32 &&
      map.dtype() != v1::TENSOR_DTYPE_UNSPECIFIED) {
    return absl::DataLossError(
        absl::StrCat(where(), ": unknown dtype ", map.dtype()));
  }
  const size_t element = half ? 2 : 4;
  const size_t count = tokens * tokens;
  if (map.data().size() != count * element) {
    return absl::DataLossError(absl::StrCat(where(), ": ", map.data().size(),
                                            " bytes, expected ",
                                            count * element));
  }
  std::vector<float> values(count);
  const char* data = map.data().data();
  for (size_t i = 0; i < count; ++i) {
    values[i] = half ? HalfToFloat(LoadLittleEndian<uint16_t>(data + 2 * i))
                     : LoadLittleEndian<float>(data + 4 * i);
  }
  return values;
}

}  // namespace

float HalfToFloat(uint16_t half) {
  const int sign = half >> 15 ? -1 : 1;
  const int exponent = (half >> 10) & 0x1F;
  const int mantissa = half & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(float(mantissa), -24);
  if (exponent == 31) {
    return mantissa == 0 ? sign * INFINITY : NAN;
  }
  return sign * std::ldexp(float(mantissa + 1024), exponent - 25);
}

absl::StatusOr<AttentionSet> DecodeAttention(
    const std::string& model, const v1::AttentionMapsResponse& response) {
  AttentionSet set;
  set.model = model;
  set.token_ids.assign(response.token_ids().begin(),
                       response.token_ids().end());
  set.tokens.assign(response.tokens().begin(), response.tokens().end());
  set.prompt_tokens = response.prompt_tokens();
  if (set.tokens.size() != set.token_ids.size()) {
    return absl::DataLossError(
        absl::StrCat("attention answer: ", set.tokens.size(),
                     " token pieces for ", set.token_ids.size(), " token ids"));
  }
  for (const v1::AttentionMap& map : response.maps()) {
    absl::StatusOr<std::vector<float>> values =
        DecodeMap(map, set.tokens.size());
    if (!values.ok()) return values.status();
    set.maps.push_back({map.layer(), map.head(), std::move(*values)});
  }
  return set;
}

std::string AttentionCsv(const AttentionSet& set, const AttentionMatrix& m) {
  std::string out = "query\\key";
  for (const std::string& token : set.tokens) {
    absl::StrAppend(&out, ",", CsvField(token));
  }
  out += "\n";
  const size_t t = set.tokens.size();
  for (size_t row = 0; row < t; ++row) {
    out += CsvField(set.tokens[row]);
    for (size_t col = 0; col < t; ++col) {
      absl::StrAppend(&out, ",",
                      absl::StrFormat("%.6g", m.values[row * t + col]));
    }
    out += "\n";
  }
  return out;
}

nlohmann::json AttentionJson(const AttentionSet& set) {
  nlohmann::json maps = nlohmann::json::array();
  const size_t t = set.tokens.size();
  for (const AttentionMatrix& m : set.maps) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t row = 0; row < t; ++row) {
      rows.push_back(std::vector<float>(m.values.begin() + row * t,
                                        m.values.begin() + (row + 1) * t));
    }
    maps.push_back({{"layer", m.layer}, {"head", m.head}, {"values", rows}});
  }
  return {{"model", set.model},
          {"tokens", set.tokens},
          {"token_ids", set.token_ids},
          {"prompt_tokens", set.prompt_tokens},
          {"maps", maps}};
}

}  // namespace tinylm
