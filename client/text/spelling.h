// Suggestions for a mistyped name: "unknown flag --servr (did you mean
// --server?)".
#ifndef TINYLM_CLIENT_TEXT_SPELLING_H_
#define TINYLM_CLIENT_TEXT_SPELLING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tinylm {

// Edits (insert, delete, replace, or swap two neighbours) that turn `a`
// into `b`, byte by byte: the optimal string alignment distance, which
// counts the commonest typo, two swapped letters, as one.
int EditDistance(absl::string_view a, absl::string_view b);

// The candidate nearest to `name` when it is near enough to be a typo of
// it: at most a third of the name's length in edits, and at least one.
// The first of equally near candidates; nullopt when none is near.
std::optional<std::string> ClosestName(
    absl::string_view name, const std::vector<std::string>& candidates);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_SPELLING_H_
