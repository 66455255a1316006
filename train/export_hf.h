// `export-hf`: writes a tinylm checkpoint whose block is LLaMA-2's (base,
// or llama) as a Hugging Face Llama directory (models/hf_export.h), for
// transformers and every tool that reads its format.
#ifndef TINYLM_TRAIN_EXPORT_HF_H_
#define TINYLM_TRAIN_EXPORT_HF_H_

#include <string>

#include "absl/status/status.h"

namespace tinylm {

struct ExportHfOptions {
  std::string checkpoint_dir;  // a tinylm checkpoint (config.json, ...)
  std::string out_dir;         // must not exist, or be empty
};

// Before anything is read: the checkpoint is a directory with config.json
// and the output is free. Errors name the flag and the path.
absl::Status CheckExportHfOptions(const ExportHfOptions& options);
// Exports and prints what it wrote.
absl::Status RunExportHfCommand(const ExportHfOptions& options);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_EXPORT_HF_H_
