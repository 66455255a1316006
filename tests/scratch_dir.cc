#include "tests/scratch_dir.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tinylm {
namespace {

void RemoveScratch() {
  std::error_code ignored;
  std::filesystem::remove_all(ScratchDir(), ignored);
}

}  // namespace

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tinylm_test.XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit(RemoveScratch);
    return new std::string(pattern);
  }();
  return *dir;
}

std::string WriteScratchFile(const std::string& name,
                             const std::string& content) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

}  // namespace tinylm
