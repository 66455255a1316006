// Helpers of the operations tests (limits, security, observability): an
// in-process server with given options on the test checkpoints, the TLS
// material made by tests/tls/make_test_certs.sh, and small call helpers.
#ifndef TINYLM_TESTS_OPS_TEST_UTIL_H_
#define TINYLM_TESTS_OPS_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/server.h"
#include "tests/scratch_dir.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

// The model the servers load (one keeps start-up quick).
inline constexpr char kOpsModel[] = "base";
inline constexpr char kOpsPrompt[] = "吾輩は猫である。";

// Starts a server on `listen` (by default a free loopback port), on the
// CPU, serving kOpsModel of the test checkpoints, with everything else from
// `options`.
absl::StatusOr<std::unique_ptr<TinyLmServer>> StartOpsServer(
    ServerOptions options, const std::string& listen = "127.0.0.1:0");

// A file that make_test_certs.sh made (the ctest fixture runs it).
std::string CertPath(const std::string& name);
std::string ReadFileText(const std::string& path);

std::string Address(const TinyLmServer& server);
void SetTestDeadline(grpc::ClientContext& context);

// A whole Generate call (tokens read and dropped); its final status.
grpc::Status GenerateAll(v1::TinyLM::Stub& stub, grpc::ClientContext& context,
                         const v1::GenerateRequest& request);
v1::GenerateRequest SmallGenerate();

// The trailing metadata of a finished call, as plain strings.
std::multimap<std::string, std::string> Trailers(
    const grpc::ClientContext& context);
std::multimap<std::string, std::string> InitialMetadata(
    const grpc::ClientContext& context);

}  // namespace tinylm

#endif  // TINYLM_TESTS_OPS_TEST_UTIL_H_
