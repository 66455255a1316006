// `prepare`: tokenizes a corpus once into binary token files.
//
// Input files hold one paragraph per line and an empty line between
// documents. Each paragraph is encoded, followed by the encoding of "\n";
// each document ends with EOS. Every `val_every`-th document goes to the
// validation split, so both splits sample the whole corpus.
#ifndef TINYLM_TRAIN_PREPARE_H_
#define TINYLM_TRAIN_PREPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tinylm {

struct PrepareOptions {
  std::vector<std::string> inputs;  // UTF-8 text files
  std::string tokenizer_path;       // sentencepiece model
  std::string out_dir;              // receives train.bin, val.bin, dataset.json
  int64_t val_every = 100;          // one document in val_every is held out
  int threads = 0;                  // 0 = all hardware threads
};

struct PrepareSummary {
  int64_t documents = 0, val_documents = 0;
  int64_t chars = 0;  // Unicode code points, newlines excluded
  int64_t train_tokens = 0, val_tokens = 0;
  int64_t vocab_size = 0;
};

// The options alone: InvalidArgument naming --val_every unless it is at
// least 2.
absl::Status ValidatePrepareOptions(const PrepareOptions& options);

// Reads, splits and encodes the corpus, then creates out_dir and writes the
// files into it; nothing is created when the corpus cannot be split (too
// few documents for val_every: the message names the largest val_every
// that holds one out).
absl::StatusOr<PrepareSummary> PrepareDataset(const PrepareOptions& options);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_PREPARE_H_
