#include "server/flags.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>

#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/status_macros.h"
#include "server/operations/auth.h"
#include "server/operations/listen_address.h"
#include "server/operations/metrics.h"
#include "server/operations/request_log.h"
#include "server/operations/tls.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to listen on (port 0 picks a free one)");
ABSL_FLAG(bool, reuse_port, false,
          "let several processes listen on the same port (SO_REUSEPORT: the "
          "kernel spreads connections among them); without it a port in use "
          "stops the server at start");
ABSL_FLAG(std::string, checkpoints, "",
          "directory of checkpoints, one subdirectory per model (default: "
          "$TINYLM_CHECKPOINTS, else the installed or source tree's "
          "models/checkpoints)");
ABSL_FLAG(std::string, models, "", "comma-separated subset of models to load");
ABSL_FLAG(std::string, device, "auto", "auto | cpu | cuda | cuda:N");
ABSL_FLAG(std::string, dtype, "",
          "float32 | bfloat16 (default: bfloat16 on CUDA, float32 on CPU)");
ABSL_FLAG(std::string, tokenizer_module, "",
          "path of libtinylm_spm.so (default: next to this program)");
ABSL_FLAG(double, shutdown_grace_seconds, 10.0,
          "time in-flight calls get to finish after SIGTERM/SIGINT");
ABSL_FLAG(std::string, step_shapes, "auto",
          "auto | dynamic | static: shapes of the model steps (auto: static "
          "where CUDA graphs are captured, else dynamic; see docs/server.md)");
ABSL_FLAG(bool, cuda_graphs, true,
          "capture the static model steps as CUDA graphs (LibTorch 2.x, CUDA)");
ABSL_FLAG(bool, fused_decode, true,
          "static decode steps on the fused CUDA kernels where built and the "
          "model is bfloat16 on CUDA; false: LibTorch's ops");
ABSL_FLAG(int64_t, admit_every_steps, 0,
          "while sequences decode, admit queued requests (one prefill for "
          "all) every this many decode steps; 0: 8 where decoding is "
          "pipelined (the fused CUDA step), else 1");

// Limits and backpressure.
ABSL_FLAG(int64_t, max_batch, 16,
          "sequences decoded together per model (KV cache slots)");
ABSL_FLAG(int64_t, max_queued, 256,
          "requests per model waiting for a KV cache slot; beyond: "
          "RESOURCE_EXHAUSTED with a retry hint");
ABSL_FLAG(int64_t, max_streams_per_model, 512,
          "calls in flight per model (queued, running, or still sending); "
          "beyond: RESOURCE_EXHAUSTED with a retry hint");
ABSL_FLAG(int64_t, retry_after_ms, 1000,
          "the retry hint of a refusal for load (message and "
          "'retry-after-ms' trailing metadata)");
ABSL_FLAG(int64_t, max_prompt_tokens, 4096,
          "limit on a prompt's tokens (each model's context also bounds it)");
ABSL_FLAG(int64_t, max_prompt_bytes, 1 << 20,
          "limit on a prompt's (or Tokenize text's) UTF-8 bytes");
ABSL_FLAG(int64_t, max_new_tokens, 1024, "limit on max_new_tokens");
ABSL_FLAG(int64_t, max_attention_bytes, 3 << 20,
          "limit on an AttentionMaps response's matrix bytes (below "
          "--max_send_message_bytes)");
ABSL_FLAG(int64_t, max_streamed_attention_bytes, int64_t(256) << 20,
          "limit on a StreamAttentionMaps call's matrix bytes in all (each "
          "message stays within --max_send_message_bytes)");
ABSL_FLAG(int64_t, max_interventions, 8,
          "limit on a request's interventions (ablations and patches)");
ABSL_FLAG(int64_t, max_lens_k, 100,
          "limit on a LogitLens request's tokens per layer");
ABSL_FLAG(int64_t, max_lens_values, 1 << 16,
          "limit on a LogitLens answer's positions x layers x tokens");
ABSL_FLAG(int64_t, max_attention_stat_values, 1 << 18,
          "limit on attention statistics' layers x heads x tokens x top "
          "keys");
ABSL_FLAG(int64_t, max_receive_message_bytes, 4 << 20,
          "largest gRPC message accepted");
ABSL_FLAG(int64_t, max_send_message_bytes, 4 << 20,
          "largest gRPC message sent");
ABSL_FLAG(double, default_deadline_seconds, 300,
          "deadline of a call whose client sets none (0 = none)");

// Security.
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server: serve TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: require client certificates they verify "
          "(mutual TLS)");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding a bearer token every TinyLM call must send as "
          "'authorization: Bearer <token>' (health and reflection stay "
          "open)");

// Observability.
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT of the Prometheus /metrics endpoint over HTTP, e.g. "
          "127.0.0.1:9464 (default: none)");
ABSL_FLAG(std::string, http_listen, "",
          "HOST:PORT of the HTTP face (default: none): the TinyLM RPCs as "
          "JSON (Connect protocol) at POST /tinylm.v1.TinyLM/<Method>, and "
          "OpenAI's POST /v1/completions and GET /v1/models; same TLS, "
          "token and limits as gRPC");
ABSL_FLAG(int64_t, http_threads, 32,
          "concurrent HTTP requests (each stream holds one)");
ABSL_FLAG(std::string, log_requests, "json",
          "one line per call on stderr: json | text | off");

namespace tinylm {
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

// `value` of flag `name` in [min, max].
absl::Status InRange(const char* name, int64_t value, int64_t min,
                     int64_t max = std::numeric_limits<int32_t>::max()) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, "=", value, ": must be in [", min, ", ", max, "]"));
}

absl::StatusOr<StepShapes> ParseStepShapes(const std::string& name) {
  if (name == "auto") return StepShapes::kAuto;
  if (name == "dynamic") return StepShapes::kDynamic;
  if (name == "static") return StepShapes::kStatic;
  return absl::InvalidArgumentError(absl::StrCat(
      "--step_shapes=", name, ": must be auto, dynamic or static"));
}

absl::Status CheckLimits(const ServerOptions& o) {
  const ServiceLimits& l = o.limits;
  const SchedulerOptions& s = o.registry.scheduler;
  // Message sizes are ints in gRPC.
  for (const absl::Status& status : {
           InRange("max_batch", s.max_batch, 1, 4096),
           InRange("admit_every_steps", s.admit_every_steps, 0, 1024),
           InRange("max_queued", s.max_queued, 1),
           InRange("max_streams_per_model", l.max_streams_per_model, 1),
           InRange("retry_after_ms", absl::ToInt64Milliseconds(l.retry_after),
                   1, 24 * 3600 * 1000),
           InRange("max_prompt_tokens", l.max_prompt_tokens, 1),
           InRange("max_prompt_bytes", l.max_prompt_bytes, 1),
           InRange("max_new_tokens", l.max_new_tokens, 1),
           InRange("max_attention_bytes", l.max_attention_bytes, 1),
           InRange("max_streamed_attention_bytes",
                   l.max_streamed_attention_bytes, 1, int64_t(1) << 40),
           InRange("max_interventions", l.max_interventions, 0, 1024),
           InRange("max_lens_k", l.max_lens_k, 1),
           InRange("max_lens_values", l.max_lens_values, 1),
           InRange("max_attention_stat_values", l.max_attention_stat_values, 0),
           InRange("max_receive_message_bytes", l.max_receive_message_bytes,
                   1024),
           InRange("max_send_message_bytes", l.max_send_message_bytes, 1024),
       }) {
    TINYLM_RETURN_IF_ERROR(status);
  }
  if (l.max_attention_bytes >= l.max_send_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_attention_bytes=", l.max_attention_bytes,
        " must stay below --max_send_message_bytes=", l.max_send_message_bytes,
        " (the response also carries the tokens); raise that one too"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> DeadlineFromFlag() {
  const double seconds = absl::GetFlag(FLAGS_default_deadline_seconds);
  if (!(seconds >= 0 && seconds <= 7 * 24 * 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default_deadline_seconds=", seconds,
                     ": must be in [0, 604800] (0 = no deadline)"));
  }
  return seconds == 0 ? absl::InfiniteDuration() : absl::Seconds(seconds);
}

// The security flags: TLS files, and the token file.
absl::Status ReadSecurity(ServerOptions& o) {
  TINYLM_ASSIGN_OR_RETURN(
      o.tls,
      LoadTlsFiles(absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                   absl::GetFlag(FLAGS_tls_client_ca)));
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (!token_file.empty()) {
    TINYLM_ASSIGN_OR_RETURN(o.auth_token, ReadTokenFile(token_file));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<char*> ParseServerFlags(int argc, char** argv) {
  // absl reports a flag it cannot parse and then calls exit(1); this
  // program's code for a bad command line is 2. Until parsing is over, an
  // exit is turned into that code (absl has printed its message by then).
  static bool parsing = true;
  std::atexit([] {
    if (parsing) _exit(kExitBadFlags);
  });
  std::vector<char*> positional = absl::flags_internal::ParseCommandLineImpl(
      argc, argv, absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage,
      absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  parsing = false;
  // --help and friends: the usage text, then a successful exit.
  const int usage = absl::flags_internal::HandleUsageFlags(
      std::cout, absl::ProgramUsageMessage());
  if (usage != -1) std::exit(0);
  return positional;
}

absl::StatusOr<ServerOptions> ServerOptionsFromFlags() {
  ServerOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.reuse_port = absl::GetFlag(FLAGS_reuse_port);
  // gRPC also listens on Unix (and abstract) sockets and vsock; their
  // addresses are left to it.
  if (!absl::StartsWith(o.listen, "unix") &&
      !absl::StartsWith(o.listen, "vsock:")) {
    TINYLM_RETURN_IF_ERROR(ParseListenAddress("listen", o.listen).status());
  }
  RegistryOptions& registry = o.registry;
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
  TINYLM_ASSIGN_OR_RETURN(registry.scheduler.step_shapes,
                          ParseStepShapes(absl::GetFlag(FLAGS_step_shapes)));
  registry.scheduler.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  registry.scheduler.fused_decode = absl::GetFlag(FLAGS_fused_decode);
  registry.scheduler.admit_every_steps = absl::GetFlag(FLAGS_admit_every_steps);

  ServiceLimits& limits = o.limits;
  limits.max_streams_per_model = absl::GetFlag(FLAGS_max_streams_per_model);
  limits.retry_after = absl::Milliseconds(absl::GetFlag(FLAGS_retry_after_ms));
  limits.max_prompt_tokens = absl::GetFlag(FLAGS_max_prompt_tokens);
  limits.max_prompt_bytes = absl::GetFlag(FLAGS_max_prompt_bytes);
  limits.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  limits.max_attention_bytes = absl::GetFlag(FLAGS_max_attention_bytes);
  limits.max_streamed_attention_bytes =
      absl::GetFlag(FLAGS_max_streamed_attention_bytes);
  limits.max_interventions = absl::GetFlag(FLAGS_max_interventions);
  limits.max_lens_k = absl::GetFlag(FLAGS_max_lens_k);
  limits.max_lens_values = absl::GetFlag(FLAGS_max_lens_values);
  limits.max_attention_stat_values =
      absl::GetFlag(FLAGS_max_attention_stat_values);
  TINYLM_ASSIGN_OR_RETURN(limits.default_deadline, DeadlineFromFlag());
  limits.max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_receive_message_bytes);
  limits.max_send_message_bytes = absl::GetFlag(FLAGS_max_send_message_bytes);
  TINYLM_RETURN_IF_ERROR(CheckLimits(o));

  TINYLM_RETURN_IF_ERROR(ReadSecurity(o));
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!o.metrics_listen.empty()) {
    TINYLM_RETURN_IF_ERROR(
        ParseListenAddress("metrics_listen", o.metrics_listen).status());
    if (!MetricsAvailable()) {
      return absl::InvalidArgumentError(
          "--metrics_listen: this tinylm-server was built without metrics "
          "(install prometheus-cpp-dev and libcpp-httplib-dev, then "
          "rebuild)");
    }
  }
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  if (!o.http_listen.empty()) {
    TINYLM_RETURN_IF_ERROR(
        ParseListenAddress("http_listen", o.http_listen).status());
  }
  const int64_t http_threads = absl::GetFlag(FLAGS_http_threads);
  TINYLM_RETURN_IF_ERROR(InRange("http_threads", http_threads, 1, 1024));
  o.http_threads = static_cast<int>(http_threads);
  TINYLM_ASSIGN_OR_RETURN(o.log_format,
                          ParseLogFormat(absl::GetFlag(FLAGS_log_requests)));
  return o;
}

absl::StatusOr<absl::Duration> ShutdownGraceFromFlags() {
  const double seconds = absl::GetFlag(FLAGS_shutdown_grace_seconds);
  if (!(seconds >= 0 && seconds <= 3600)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shutdown_grace_seconds=", seconds, ": must be in [0, 3600]"));
  }
  return absl::Seconds(seconds);
}

}  // namespace tinylm
