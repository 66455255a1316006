#include "tests/ops_test_util.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/scratch_dir.h"
#include "tests/test_checkpoints.h"

namespace tinylm {
namespace {

std::multimap<std::string, std::string> Plain(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  std::multimap<std::string, std::string> out;
  for (const auto& [key, value] : metadata) {
    out.emplace(std::string(key.data(), key.size()),
                std::string(value.data(), value.size()));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TinyLmServer>> StartOpsServer(
    ServerOptions options, const std::string& listen) {
  absl::StatusOr<std::string> checkpoints =
      TestCheckpointsDir(ScratchDir() + "/checkpoints");
  if (!checkpoints.ok()) return checkpoints.status();
  options.listen = listen;
  options.registry.checkpoints_dir = *checkpoints;
  options.registry.device = "cpu";
  options.registry.only = {kOpsModel};
  options.registry.scheduler.max_batch = 2;
  return TinyLmServer::Start(options);
}

std::string CertPath(const std::string& name) {
  return absl::StrCat(TINYLM_TEST_CERTS_DIR, "/", name);
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}


std::string Address(const TinyLmServer& server) {
  return absl::StrCat("127.0.0.1:", server.port());
}

void SetTestDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::minutes(2));
}

grpc::Status GenerateAll(v1::TinyLM::Stub& stub, grpc::ClientContext& context,
                         const v1::GenerateRequest& request) {
  auto reader = stub.Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

v1::GenerateRequest SmallGenerate() {
  v1::GenerateRequest request;
  request.set_model(kOpsModel);
  request.set_text(kOpsPrompt);
  request.set_max_new_tokens(3);
  request.mutable_sampling()->set_seed(1);
  return request;
}

std::multimap<std::string, std::string> Trailers(
    const grpc::ClientContext& context) {
  return Plain(context.GetServerTrailingMetadata());
}

std::multimap<std::string, std::string> InitialMetadata(
    const grpc::ClientContext& context) {
  return Plain(context.GetServerInitialMetadata());
}

}  // namespace tinylm
