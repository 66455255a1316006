// Attention maps from an AttentionMaps answer (or a StreamAttentionMaps
// stream) as float matrices, and their CSV and JSON exports.
#ifndef TINYLM_CLIENT_PICTURES_ATTENTION_DATA_H_
#define TINYLM_CLIENT_PICTURES_ATTENTION_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// Query rows [row_begin, row_begin + rows) of a T x T map.
struct AttentionMatrix {
  uint32_t layer = 0;
  uint32_t head = 0;
  std::vector<float> values;  // [rows, T] row = query, column = key
  uint32_t row_begin = 0;
  uint32_t rows = 0;
};

struct AttentionSet {
  std::string model;
  std::vector<int32_t> token_ids;   // [T]
  std::vector<std::string> tokens;  // [T] display pieces
  uint32_t prompt_tokens = 0;
  std::vector<AttentionMatrix> maps;  // layer-major, then head
};

// IEEE 754 binary16 to float (for TENSOR_DTYPE_FLOAT16 maps).
float HalfToFloat(uint16_t half);

// The answer's matrices decoded; DATA_LOSS when a map's shape, dtype or
// byte count disagrees with the token count.
absl::StatusOr<AttentionSet> DecodeAttention(
    const std::string& model, const v1::AttentionMapsResponse& response);

// The same from a stream: its header, then maps whose consecutive row
// blocks of one layer and head are joined.
absl::StatusOr<AttentionSet> DecodeAttentionStream(
    const std::string& model,
    const std::vector<v1::AttentionMapsChunk>& chunks);

// One matrix as CSV: a header row "query\key" + the key tokens, then one
// row per query row: its token's piece and T values.
std::string AttentionCsv(const AttentionSet& set, const AttentionMatrix& m);

// {"model", "tokens", "token_ids", "prompt_tokens",
//  "maps": [{"layer", "head", "row_begin", "values": [[...], ...]}]}
nlohmann::json AttentionJson(const AttentionSet& set);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_ATTENTION_DATA_H_
