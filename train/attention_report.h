// The study's attention report: the article reads its last-layer heatmaps
// as "self-attention high in the first half of the sentence", "key 、 high
// for every query" and "attention spread over the whole sentence"; this
// measures those readings per layer and variant over a set of texts.
#ifndef TINYLM_TRAIN_ATTENTION_REPORT_H_
#define TINYLM_TRAIN_ATTENTION_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tinylm {

struct AttentionReportModel {
  std::string variant;
  std::string checkpoint_dir;
};

struct AttentionReport {
  std::string markdown;   // attention_stats.md: one table per measure
  std::string stats_json; // attention_stats.json: the same numbers
  // attention_maps.json: the last layer's maps of texts[0] per variant,
  // with its tokens, for heatmaps drawn side by side.
  std::string maps_json;
};

// Every measure is a mean over the query rows of all `texts` (and the
// heads): entropy, mass on the first token, mean distance, mass on the
// diagonal (also over the first and the second half of each text's rows),
// and mass on keys that are 「、」, beside what uniform attention over the
// visible keys would give. Models run in float32 on the CPU.
absl::StatusOr<AttentionReport> MeasureAttention(
    const std::vector<AttentionReportModel>& models,
    const std::vector<std::string>& texts);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_ATTENTION_REPORT_H_
