// A scratch directory for one test process, removed when it exits, and
// files written into it.
#ifndef TINYLM_TESTS_SCRATCH_DIR_H_
#define TINYLM_TESTS_SCRATCH_DIR_H_

#include <string>

namespace tinylm {

// Made on first use under the system's temporary directory.
const std::string& ScratchDir();

// Writes `content` to ScratchDir()/name (replaced if present); its path.
std::string WriteScratchFile(const std::string& name,
                             const std::string& content);

}  // namespace tinylm

#endif  // TINYLM_TESTS_SCRATCH_DIR_H_
