// The name of a FinishReason as people read it: "length", "stop", "eos",
// "cancelled" ("unspecified" for anything else). Shared by every program
// that prints or records a Generate summary.
#ifndef TINYLM_PROTO_FINISH_REASON_H_
#define TINYLM_PROTO_FINISH_REASON_H_

#include <string>

#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

std::string FinishReasonLabel(v1::FinishReason reason);

}  // namespace tinylm

#endif  // TINYLM_PROTO_FINISH_REASON_H_
