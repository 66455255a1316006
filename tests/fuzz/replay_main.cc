// Replays inputs through a fuzz target without libFuzzer, for builds
// without TINYLM_FUZZ (any compiler, no sanitizers needed): each argument
// is a file or a corpus directory, whose files run once each in name order.
// The committed corpora, crash regressions included, thus run as ordinary
// tests; a broken property aborts (FUZZ_CHECK) and names itself.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (!fs::is_directory(argv[i])) {
      inputs.emplace_back(argv[i]);
      continue;
    }
    std::vector<fs::path> corpus;
    for (const fs::directory_entry& entry : fs::directory_iterator(argv[i])) {
      if (entry.is_regular_file()) corpus.push_back(entry.path());
    }
    std::sort(corpus.begin(), corpus.end());
    inputs.insert(inputs.end(), corpus.begin(), corpus.end());
  }
  for (const fs::path& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot be read\n", input.c_str());
      return 1;
    }
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
  }
  std::printf("replayed %zu inputs\n", inputs.size());
  // No input at all is a wrong path, not a pass.
  return inputs.empty() ? 1 : 0;
}
