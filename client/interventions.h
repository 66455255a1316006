// The interventions a command line asks for (--ablate, and --patch with
// --patch_prompt) as API messages, and their reported effect as text.
//
//   --ablate=head:2.0        zero head 0's output in layer 2
//   --ablate=attn:3:mean     layer 3's attention output -> its mean
//   --ablate=mlp:0           zero layer 0's MLP output
//   --patch=residual:4@5     the residual after block 4 at position 5
//   --patch=pattern:1.0      head 0's attention weights in layer 1
#ifndef TINYLM_CLIENT_INTERVENTIONS_H_
#define TINYLM_CLIENT_INTERVENTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli_options.h"
#include "nlohmann/json.hpp"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// INVALID_ARGUMENT naming the flag for an item that does not parse, or for
// --patch without --patch_prompt.
absl::StatusOr<std::vector<v1::Intervention>> InterventionsFromFlags(
    const CliOptions& options);

// "KL 0.42 nats over 1 position; top token "町" p=0.33 -> "村" p=0.12", or
// a line saying the interventions changed nothing.
std::string FormatEffect(const v1::InterventionEffect& effect);

// {"mean_kl", "max_kl", "positions", "top_changed", "max_logit_change",
//  "clean_top": {...}, "intervened_top": {...}}
nlohmann::json EffectJson(const v1::InterventionEffect& effect);

template <typename Request>
absl::Status SetInterventions(const CliOptions& options, Request* request) {
  absl::StatusOr<std::vector<v1::Intervention>> interventions =
      InterventionsFromFlags(options);
  if (!interventions.ok()) return interventions.status();
  for (v1::Intervention& i : *interventions) {
    *request->add_interventions() = std::move(i);
  }
  return absl::OkStatus();
}

}  // namespace tinylm

#endif  // TINYLM_CLIENT_INTERVENTIONS_H_
