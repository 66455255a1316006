// Helpers shared by the libFuzzer targets of tests/fuzz.
//
// A fuzz target reports a broken property by aborting: libFuzzer then saves
// the input as a crash artifact. FUZZ_CHECK is for the properties the code
// under test promises (a bounded error code, an invariant of a result);
// sanitizers catch the memory and undefined-behaviour errors themselves.
#ifndef TINYLM_TESTS_FUZZ_FUZZ_CHECK_H_
#define TINYLM_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"

#define FUZZ_CHECK(condition, detail)                                      \
  do {                                                                     \
    if (!(condition)) {                                                    \
      std::fprintf(stderr, "%s:%d: property failed: %s\n  %s\n", __FILE__, \
                   __LINE__, #condition,                                   \
                   ::tinylm::fuzz::Detail(detail).c_str());                \
      std::abort();                                                        \
    }                                                                      \
  } while (false)

namespace tinylm {
namespace fuzz {

inline std::string Detail(const std::string& text) { return text; }
inline std::string Detail(const char* text) { return text; }
inline std::string Detail(const absl::Status& status) {
  return status.ToString();
}

// A directory of the process's own under $TMPDIR (or /tmp), removed at
// exit: the checkpoint and validation targets write files there.
const std::string& ScratchDir();

// The source tree's file `relative` (e.g. "models/checkpoints/base").
std::string SourcePath(const std::string& relative);

// Torch on one thread: fuzzing runs one input at a time, on one core.
void UseOneThread();

}  // namespace fuzz
}  // namespace tinylm

#endif  // TINYLM_TESTS_FUZZ_FUZZ_CHECK_H_
