// Checkpoints for the server tests.
//
// Until trained checkpoints ship, the tests serve four tiny random-weight
// checkpoints (one per variant) built here, with a small tokenizer trained
// on tests/data/corpus-sample.txt. Set TINYLM_TEST_CHECKPOINTS to a
// directory of real checkpoints (e.g. models/checkpoints) to run the same
// tests on those instead.
#ifndef TINYLM_TESTS_TEST_CHECKPOINTS_H_
#define TINYLM_TESTS_TEST_CHECKPOINTS_H_

#include <string>

#include "absl/status/statusor.h"

namespace tinylm {

// Writes <dir>/<variant>/ for the four variants (dir is created).
absl::Status BuildTestCheckpoints(const std::string& dir);

// $TINYLM_TEST_CHECKPOINTS when set; else builds the tiny checkpoints once
// per process under `scratch` and returns that directory.
absl::StatusOr<std::string> TestCheckpointsDir(const std::string& scratch);

}  // namespace tinylm

#endif  // TINYLM_TESTS_TEST_CHECKPOINTS_H_
