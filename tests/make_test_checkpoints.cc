// Writes the tiny test checkpoints (test_checkpoints.h) into argv[1]; ctest
// runs it once as a fixture for the tests that start the server binary.
#include <iostream>

#include "tests/test_checkpoints.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_test_checkpoints DIR\n";
    return 2;
  }
  const absl::Status status = tinylm::BuildTestCheckpoints(argv[1]);
  if (!status.ok()) {
    std::cerr << "make_test_checkpoints: " << status << "\n";
    return 1;
  }
  return 0;
}
