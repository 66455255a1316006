// The per-layer attention entropy of a Compare answer as a terminal table:
// a row per layer, a column per model, and the mean over layers last.
//
//   layer | base | qkv_gelu
//   ------+------+---------
//   0     | 0.00 | 0.00
//   1     | 0.69 | 0.52
//   mean  | 0.35 | 0.26
#ifndef TINYLM_CLIENT_TEXT_ENTROPY_TABLE_H_
#define TINYLM_CLIENT_TEXT_ENTROPY_TABLE_H_

#include <optional>

#include "client/text/text_table.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// Values in nats with two decimals; a model with fewer layers than another
// has empty cells below its last. nullopt when no model has entropies.
std::optional<TextTable> EntropyTable(const v1::CompareResponse& response);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_ENTROPY_TABLE_H_
