#include "tests/client_e2e_util.h"

#include <cairo.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/test_checkpoints.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kServerStart = absl::Minutes(3);

}  // namespace

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

nlohmann::json Json(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

PngInfo ReadPng(const std::string& path) {
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  PngInfo info;
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    info.width = cairo_image_surface_get_width(s);
    info.height = cairo_image_surface_get_height(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    std::set<uint32_t> colours;
    for (int y = 0; y < info.height; y += 2) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
      for (int x = 0; x < info.width; x += 2) colours.insert(row[x]);
    }
    info.colours = colours.size();
  }
  cairo_surface_destroy(s);
  return info;
}

int TokenCount(ClientEndToEndTest& test, const std::string& text) {
  const ProcessResult r =
      test.Tinylm({"--model=" + test.Model(), "--json", "tokenize", text});
  return Json(r.out)["ids"].size();
}

const std::string& ClientBinary() {
  static const std::string* binary = new std::string(TINYLM_CLIENT_BINARY);
  return *binary;
}

ProcessResult RunTinylm(const std::vector<std::string>& args,
                        const std::string& input) {
  std::vector<std::string> argv = {ClientBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ProcessResult> result = RunProcess(argv, input);
  if (!result.ok()) {
    ADD_FAILURE() << "cannot run tinylm: " << result.status();
    return {};
  }
  return *result;
}

// ---------------------------------------------------------------- real server

struct ClientEndToEndTest::Shared {
  std::string scratch;
  std::string error;  // why the server is not there
  std::unique_ptr<ChildProcess> server;
  std::string address;
  nlohmann::json models;
  std::vector<std::string> names;
};

ClientEndToEndTest::Shared* ClientEndToEndTest::shared_ = nullptr;

void ClientEndToEndTest::SetUpTestSuite() {
  shared_ = new Shared;
  shared_->scratch = (fs::temp_directory_path() /
                      ("tinylm_client_e2e_" + std::to_string(getpid())))
                         .string();
  fs::create_directories(shared_->scratch);
  absl::StatusOr<std::string> checkpoints =
      TestCheckpointsDir(shared_->scratch + "/checkpoints");
  if (!checkpoints.ok()) {
    shared_->error = checkpoints.status().ToString();
    return;
  }
  absl::StatusOr<ChildProcess> server =
      ChildProcess::Start({TINYLM_SERVER_BINARY, "--listen=127.0.0.1:0",
                           "--checkpoints=" + *checkpoints, "--device=cpu",
                           "--shutdown_grace_seconds=5"},
                          /*inherit_stderr=*/true);
  if (!server.ok()) {
    shared_->error = server.status().ToString();
    return;
  }
  shared_->server = std::make_unique<ChildProcess>(std::move(*server));
  absl::StatusOr<std::string> line =
      shared_->server->ReadLine("on port ", kServerStart);
  int port = 0;
  if (!line.ok() ||
      !absl::SimpleAtoi(line->substr(line->rfind(' ') + 1), &port)) {
    shared_->error = "the server did not start: " + line.status().ToString();
    return;
  }
  shared_->address = "127.0.0.1:" + std::to_string(port);
  const ProcessResult models = Tinylm({"--json", "models"});
  shared_->models = nlohmann::json::parse(models.out, nullptr, false);
  if (models.exit_code != 0 || !shared_->models.is_array() ||
      shared_->models.empty()) {
    shared_->error = "tinylm models failed: " + models.err;
    return;
  }
  for (const auto& m : shared_->models) shared_->names.push_back(m["name"]);
}

void ClientEndToEndTest::TearDownTestSuite() {
  if (shared_->server) {
    const ProcessResult stop = shared_->server->Signal(SIGTERM);
    EXPECT_EQ(stop.exit_code, 0) << "tinylm-server after SIGTERM";
  }
  std::error_code ignored;
  fs::remove_all(shared_->scratch, ignored);
  delete shared_;
  shared_ = nullptr;
}

void ClientEndToEndTest::SetUp() {
  ASSERT_TRUE(shared_->error.empty()) << shared_->error;
}

ProcessResult ClientEndToEndTest::Tinylm(const std::vector<std::string>& args,
                                         const std::string& input) {
  std::vector<std::string> all = {"--server=" + shared_->address};
  all.insert(all.end(), args.begin(), args.end());
  return RunTinylm(all, input);
}

const std::vector<std::string>& ClientEndToEndTest::ModelNames() {
  return shared_->names;
}

nlohmann::json ClientEndToEndTest::Info(const std::string& name) {
  for (const auto& m : shared_->models) {
    if (m["name"] == name) return m;
  }
  return nullptr;
}

std::string ClientEndToEndTest::Scratch(const std::string& name) {
  const std::string dir = shared_->scratch + "/" + name;
  fs::create_directories(dir);
  return dir;
}

// ---------------------------------------------------------------- stand-in

class StandInServerTest::Service : public v1::TinyLM::CallbackService {
 public:
  // Sends the first token, then waits for the cancel.
  class Holding : public grpc::ServerWriteReactor<v1::GenerateResponse> {
   public:
    explicit Holding(Service* service) : service_(service) {
      response_.mutable_token()->set_text(std::string(kFirstToken) + "\n");
      StartWrite(&response_);
    }
    void OnWriteDone(bool) override {}
    void OnCancel() override {
      service_->NoteCancel();
      Finish(grpc::Status::CANCELLED);
    }
    void OnDone() override { delete this; }

   private:
    Service* service_;
    v1::GenerateResponse response_;
  };

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext*, const v1::GenerateRequest*) override {
    return new Holding(this);
  }

  void NoteCancel() {
    if (!cancelled_flag_.exchange(true)) cancelled_.set_value();
  }
  std::future<void> Cancelled() { return cancelled_.get_future(); }

 private:
  std::atomic<bool> cancelled_flag_{false};
  std::promise<void> cancelled_;
};

StandInServerTest::StandInServerTest() = default;
StandInServerTest::~StandInServerTest() = default;

void StandInServerTest::SetUp() {
  grpc::EnableDefaultHealthCheckService(true);
  service_ = std::make_unique<Service>();
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  ASSERT_NE(server_, nullptr);
  ASSERT_GT(port, 0);
  address_ = "127.0.0.1:" + std::to_string(port);
}

void StandInServerTest::TearDown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }
}

bool StandInServerTest::WaitForServerCancel() {
  return service_->Cancelled().wait_for(std::chrono::minutes(2)) ==
         std::future_status::ready;
}

void StandInServerTest::SetServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

}  // namespace tinylm
