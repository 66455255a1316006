// tinylm-server: serves the tinylm checkpoints over gRPC (tinylm.v1.TinyLM,
// grpc.health.v1, server reflection). SIGTERM or SIGINT stop it gracefully
// (exit 0); a checkpoint that fails to load stops start-up (exit 1).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to listen on (port 0 picks a free one)");
ABSL_FLAG(std::string, checkpoints, "",
          "directory of checkpoints, one subdirectory per model (default: "
          "$TINYLM_CHECKPOINTS, else the installed or source tree's "
          "models/checkpoints)");
ABSL_FLAG(std::string, models, "", "comma-separated subset of models to load");
ABSL_FLAG(std::string, device, "auto", "auto | cpu | cuda | cuda:N");
ABSL_FLAG(std::string, dtype, "",
          "float32 | bfloat16 (default: bfloat16 on CUDA, float32 on CPU)");
ABSL_FLAG(int64_t, max_batch, 16, "sequences decoded together per model");
ABSL_FLAG(int64_t, max_queued, 256, "queued requests per model");
ABSL_FLAG(std::string, step_shapes, "auto",
          "auto | dynamic | static: shapes of the model steps (auto: static "
          "where CUDA graphs are captured, else dynamic)");
ABSL_FLAG(bool, cuda_graphs, true,
          "capture the static model steps as CUDA graphs (LibTorch 2.x, CUDA)");
ABSL_FLAG(int64_t, max_new_tokens, 1024, "limit on max_new_tokens");
ABSL_FLAG(int64_t, max_attention_bytes, 3 << 20,
          "limit on an AttentionMaps response's matrix bytes");
ABSL_FLAG(double, shutdown_grace_seconds, 10.0,
          "time in-flight calls get to finish after SIGTERM/SIGINT");
ABSL_FLAG(std::string, tokenizer_module, "",
          "path of libtinylm_spm.so (default: next to this program)");

namespace {

namespace fs = std::filesystem;

// The shipped checkpoints: installed (<prefix>/share/tinylm/checkpoints
// beside <prefix>/bin) or in the source tree this binary was built from.
std::string DefaultCheckpoints() {
  if (const char* env = std::getenv("TINYLM_CHECKPOINTS")) return env;
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    const fs::path installed =
        exe.parent_path().parent_path() / "share" / "tinylm" / "checkpoints";
    if (fs::is_directory(installed, error)) return installed.string();
  }
  return TINYLM_SOURCE_CHECKPOINTS;
}

tinylm::ServerOptions OptionsFromFlags() {
  tinylm::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  tinylm::RegistryOptions& registry = options.registry;
  registry.checkpoints_dir = absl::GetFlag(FLAGS_checkpoints);
  if (registry.checkpoints_dir.empty()) {
    registry.checkpoints_dir = DefaultCheckpoints();
  }
  const std::string models = absl::GetFlag(FLAGS_models);
  if (!models.empty()) {
    registry.only = absl::StrSplit(models, ',', absl::SkipEmpty());
  }
  registry.device = absl::GetFlag(FLAGS_device);
  registry.dtype = absl::GetFlag(FLAGS_dtype);
  registry.tokenizer_module = absl::GetFlag(FLAGS_tokenizer_module);
  registry.scheduler.max_batch = absl::GetFlag(FLAGS_max_batch);
  registry.scheduler.max_queued = absl::GetFlag(FLAGS_max_queued);
  registry.scheduler.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  options.limits.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.limits.max_attention_bytes =
      absl::GetFlag(FLAGS_max_attention_bytes);
  return options;
}

bool ParseStepShapes(const std::string& name, tinylm::StepShapes* shapes) {
  if (name == "auto") {
    *shapes = tinylm::StepShapes::kAuto;
  } else if (name == "dynamic") {
    *shapes = tinylm::StepShapes::kDynamic;
  } else if (name == "static") {
    *shapes = tinylm::StepShapes::kStatic;
  } else {
    return false;
  }
  return true;
}

bool LimitsValid(const tinylm::ServerOptions& options) {
  return options.registry.scheduler.max_batch > 0 &&
         options.registry.scheduler.max_queued > 0 &&
         options.limits.max_new_tokens > 0 &&
         options.limits.max_attention_bytes > 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so that every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::SetProgramUsageMessage("Serves tinylm checkpoints over gRPC.");
  absl::ParseCommandLine(argc, argv);
  tinylm::ServerOptions options = OptionsFromFlags();
  if (!LimitsValid(options)) {
    std::cerr << "tinylm-server: --max_* flags must be positive\n";
    return 2;
  }
  const std::string step_shapes = absl::GetFlag(FLAGS_step_shapes);
  if (!ParseStepShapes(step_shapes,
                       &options.registry.scheduler.step_shapes)) {
    std::cerr << "tinylm-server: --step_shapes must be auto, dynamic or "
                 "static, got \"" << step_shapes << "\"\n";
    return 2;
  }

  auto server = tinylm::TinyLmServer::Start(options);
  if (!server.ok()) {
    std::cerr << "tinylm-server: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << "tinylm-server: serving " << (*server)->registry().Names()
            << " from " << options.registry.checkpoints_dir << " on port "
            << (*server)->port() << std::endl;
  // After the port line, which scripts and tests read first.
  for (const auto& model : (*server)->registry().models()) {
    std::cout << "tinylm-server: " << model->name << " on "
              << model->device.str() << ": "
              << model->scheduler->step_description() << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "tinylm-server: signal " << signal_number
            << ", shutting down" << std::endl;
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  return 0;
}
