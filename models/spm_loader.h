// Finds libtinylm_spm.so and loads it into a link-map namespace of its own.
//
// The module carries sentencepiece and, with it, a Protobuf that must never
// meet the process's own (see models/tokenizer.h). dlmopen(LM_ID_NEWLM)
// gives the module private copies of everything it links, so only the C
// functions of models/spm/spm_module.h are used across the boundary.
//
// Each namespace loads its own libc and libstdc++ and takes static TLS that
// is never returned, and glibc allows only 16 namespaces per process, so a
// module is loaded at most once per process and path, and never unloaded.
#ifndef TINYLM_MODELS_SPM_LOADER_H_
#define TINYLM_MODELS_SPM_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/spm/spm_module.h"

namespace tinylm {

// The module's C functions. Immutable once loaded; lives until exit.
struct SpmModule {
  std::string path;  // canonical path of the loaded file
  TinylmSpmLoadFn load;
  TinylmSpmFreeFn free_model;
  TinylmSpmEncodeFn encode;
  TinylmSpmDecodeFn decode;
  TinylmSpmIdToPieceFn id_to_piece;
  TinylmSpmPieceToIdFn piece_to_id;
  TinylmSpmModelIntFn vocab_size;
  TinylmSpmModelIntFn bos_id;
  TinylmSpmModelIntFn eos_id;
  TinylmSpmModelIntFn unk_id;
  TinylmSpmModelIntFn pad_id;
  TinylmSpmIdPredicateFn is_byte;
  TinylmSpmIdPredicateFn is_control;
  TinylmSpmIdPredicateFn is_unknown;
  TinylmSpmTrainFn train;
  TinylmSpmFreeIdsFn free_ids;
  TinylmSpmFreeStringFn free_string;

  // Takes ownership of a module-allocated error string and returns it
  // ("unknown error" for NULL, which the module returns when out of memory).
  std::string TakeError(char* error) const;
};

// The file name of the module.
inline constexpr char kSpmModuleFileName[] = "libtinylm_spm.so";

// The places searched when no explicit path is given, in order:
// $TINYLM_SPM_MODULE if set (then only it), else next to the executable,
// else in ../lib/tinylm relative to the executable's directory.
std::vector<std::string> SpmModuleCandidates();

// Loads the module at `explicit_path`, or the first candidate that exists
// when it is empty. NotFound names every path tried; FailedPrecondition
// names the file that exists but is not a usable module (dlmopen's reason,
// a missing function, an ABI version mismatch). Thread-safe.
absl::StatusOr<const SpmModule*> LoadSpmModule(
    const std::string& explicit_path);

}  // namespace tinylm

#endif  // TINYLM_MODELS_SPM_LOADER_H_
