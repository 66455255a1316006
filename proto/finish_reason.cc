#include "proto/finish_reason.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace tinylm {

std::string FinishReasonLabel(v1::FinishReason reason) {
  // The generated name is e.g. FINISH_REASON_LENGTH.
  constexpr absl::string_view kPrefix = "FINISH_REASON_";
  const std::string& name = v1::FinishReason_Name(reason);
  if (!absl::StartsWith(name, kPrefix)) return "unspecified";
  return absl::AsciiStrToLower(name.substr(kPrefix.size()));
}

}  // namespace tinylm
