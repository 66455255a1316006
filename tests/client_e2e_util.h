// Fixtures of the client's end-to-end tests (client_e2e_test.cc).
#ifndef TINYLM_TESTS_CLIENT_E2E_UTIL_H_
#define TINYLM_TESTS_CLIENT_E2E_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/client_process.h"
#include "tests/unused_port.h"

namespace tinylm {

// The tinylm binary under test.
const std::string& ClientBinary();

// Runs tinylm with `args` (and `input` on stdin).
ProcessResult RunTinylm(const std::vector<std::string>& args,
                        const std::string& input = "");

// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);

// `text` parsed as JSON; a discarded value when it is not JSON.
nlohmann::json Json(const std::string& text);

// A PNG's dimensions and how many colours it has (sampled).
struct PngInfo {
  int width = 0, height = 0;
  size_t colours = 0;
};
PngInfo ReadPng(const std::string& path);

// One real tinylm-server per test program, started from its binary on a
// free port with the test checkpoints (test_checkpoints.h), stopped with
// SIGTERM at the end (and expected to exit 0).
class ClientEndToEndTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // tinylm --server=<this server> args...
  static ProcessResult Tinylm(const std::vector<std::string>& args,
                              const std::string& input = "");
  static const std::vector<std::string>& ModelNames();
  static const std::string& Model() { return ModelNames().front(); }
  // `tinylm --json models`' entry of `name`.
  static nlohmann::json Info(const std::string& name);
  // A fresh directory under the test's scratch directory.
  static std::string Scratch(const std::string& name);

 protected:
  void SetUp() override;

 private:
  struct Shared;
  static Shared* shared_;
};

// How many tokens the fixture's model makes of `text`.
int TokenCount(ClientEndToEndTest& test, const std::string& text);

// A small in-process TinyLM server whose Generate sends kFirstToken and
// then holds the stream open until the client cancels it (or its deadline
// passes), with the standard health service. For what the real server
// cannot be made to do on cue.
inline constexpr char kFirstToken[] = "first-token";

class StandInServerTest : public ::testing::Test {
 protected:
  StandInServerTest();
  ~StandInServerTest() override;
  void SetUp() override;
  void TearDown() override;

  const std::string& address() const { return address_; }
  // Whether the server saw a Generate call cancelled (waits a bounded
  // time for it).
  bool WaitForServerCancel();
  void SetServing(bool serving);

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace tinylm

#endif  // TINYLM_TESTS_CLIENT_E2E_UTIL_H_
