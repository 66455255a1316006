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

absl::StatusOr<AttentionMatrix> DecodeMap(const v1::AttentionMap& map,
                                          size_t tokens) {
  const auto where = [&] {
    return absl::StrCat("attention map of layer ", map.layer(), " head ",
                        map.head());
  };
  if (map.shape_size() != 2 || map.shape(1) != tokens ||
      map.row_begin() + map.shape(0) > tokens) {
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
  const size_t count = map.shape(0) * tokens;
  if (map.data().size() != count * element) {
    return absl::DataLossError(absl::StrCat(where(), ": ", map.data().size(),
                                            " bytes, expected ",
                                            count * element));
  }
  AttentionMatrix m;
  m.layer = map.layer();
  m.head = map.head();
  m.row_begin = map.row_begin();
  m.rows = map.shape(0);
  m.values.resize(count);
  const char* data = map.data().data();
  for (size_t i = 0; i < count; ++i) {
    m.values[i] = half ? HalfToFloat(LoadLittleEndian<uint16_t>(data + 2 * i))
                       : LoadLittleEndian<float>(data + 4 * i);
  }
  return m;
}

// The axes' tokens of an answer or a stream's header.
template <typename Message>
absl::StatusOr<AttentionSet> Axes(const std::string& model,
                                  const Message& message) {
  AttentionSet set;
  set.model = model;
  set.token_ids.assign(message.token_ids().begin(),
                       message.token_ids().end());
  set.tokens.assign(message.tokens().begin(), message.tokens().end());
  set.prompt_tokens = message.prompt_tokens();
  if (set.tokens.size() != set.token_ids.size()) {
    return absl::DataLossError(
        absl::StrCat("attention answer: ", set.tokens.size(),
                     " token pieces for ", set.token_ids.size(), " token ids"));
  }
  return set;
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
  absl::StatusOr<AttentionSet> set = Axes(model, response);
  if (!set.ok()) return set.status();
  for (const v1::AttentionMap& map : response.maps()) {
    absl::StatusOr<AttentionMatrix> m = DecodeMap(map, set->tokens.size());
    if (!m.ok()) return m.status();
    set->maps.push_back(*std::move(m));
  }
  return set;
}

absl::StatusOr<AttentionSet> DecodeAttentionStream(
    const std::string& model,
    const std::vector<v1::AttentionMapsChunk>& chunks) {
  if (chunks.empty() || !chunks.front().has_header()) {
    return absl::DataLossError("the attention stream has no header");
  }
  const v1::AttentionMapsHeader& header = chunks.front().header();
  if (chunks.size() != header.messages() + 1) {
    return absl::DataLossError(
        absl::StrCat("the attention stream announced ", header.messages(),
                     " maps and sent ", chunks.size() - 1));
  }
  absl::StatusOr<AttentionSet> set = Axes(model, header);
  if (!set.ok()) return set.status();
  for (size_t i = 1; i < chunks.size(); ++i) {
    absl::StatusOr<AttentionMatrix> m =
        DecodeMap(chunks[i].map(), set->tokens.size());
    if (!m.ok()) return m.status();
    AttentionMatrix* last = set->maps.empty() ? nullptr : &set->maps.back();
    if (last != nullptr && last->layer == m->layer && last->head == m->head &&
        last->row_begin + last->rows == m->row_begin) {
      last->values.insert(last->values.end(), m->values.begin(),
                          m->values.end());
      last->rows += m->rows;
    } else {
      set->maps.push_back(*std::move(m));
    }
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
  for (size_t row = 0; row < m.rows; ++row) {
    out += CsvField(set.tokens[m.row_begin + row]);
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
    for (size_t row = 0; row < m.rows; ++row) {
      rows.push_back(std::vector<float>(m.values.begin() + row * t,
                                        m.values.begin() + (row + 1) * t));
    }
    maps.push_back({{"layer", m.layer},
                    {"head", m.head},
                    {"row_begin", m.row_begin},
                    {"values", rows}});
  }
  return {{"model", set.model},
          {"tokens", set.tokens},
          {"token_ids", set.token_ids},
          {"prompt_tokens", set.prompt_tokens},
          {"maps", maps}};
}

}  // namespace tinylm
