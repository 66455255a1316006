#include "tests/fuzz/fuzz_check.h"

#include <ATen/Parallel.h>
#include <stdlib.h>

#include <filesystem>

namespace tinylm {
namespace fuzz {

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
        "/tinylm-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, pattern);
    auto* path = new std::string(pattern);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(ScratchDir(), ignored);
    });
    return path;
  }();
  return *dir;
}

std::string SourcePath(const std::string& relative) {
  return std::string(TINYLM_SOURCE_DIR) + "/" + relative;
}

void UseOneThread() {
  at::set_num_threads(1);
  at::set_num_interop_threads(1);
}

}  // namespace fuzz
}  // namespace tinylm
