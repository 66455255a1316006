// Paths in the trainer's messages, quoted like every user value
// (util/quote.h) but with room for a path of ordinary length: the file name
// at its end is the part that matters.
#ifndef TINYLM_TRAIN_QUOTE_PATH_H_
#define TINYLM_TRAIN_QUOTE_PATH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "util/quote.h"

namespace tinylm {

inline std::string QuotePath(absl::string_view path) {
  return Quote(path, /*max_bytes=*/256);
}

}  // namespace tinylm

#endif  // TINYLM_TRAIN_QUOTE_PATH_H_
