// Binary token files: a flat little-endian array of uint16 token ids (the
// vocabulary is at most 65536), the layout llm.c-style trainers use so that
// a corpus is tokenized once and then read with one read() or mmap.
#ifndef TINYLM_TRAIN_TOKEN_FILE_H_
#define TINYLM_TRAIN_TOKEN_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tinylm {

absl::Status WriteTokenFile(const std::string& path,
                            const std::vector<uint16_t>& tokens);
absl::StatusOr<std::vector<uint16_t>> ReadTokenFile(const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_TOKEN_FILE_H_
