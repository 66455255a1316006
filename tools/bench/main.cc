// tinylm-bench: a closed-loop gRPC load generator for tinylm-server.
//
// For every served model (or --models) and every level in --concurrency it
// runs C concurrent Generate streams with a fixed prompt set and fixed
// max_new_tokens (greedy unless sampling flags say otherwise), excludes the
// warm-up requests, and reports output tokens/s, requests/s, time to first
// token and inter-token latency percentiles, and errors by gRPC code, as
// JSON (--json_out) and Markdown (--md_out, and stdout).
// Exit codes: 0 the runs completed (errors are in the report), 1 setup
// failed (server unreachable or not SERVING, unknown model, bad prompts),
// 2 bad flags.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/rpc/channel.h"
#include "tinylm/v1/tinylm.grpc.pb.h"
#include "tools/bench/health_wait.h"
#include "tools/bench/load_generator.h"
#include "tools/bench/prompts.h"
#include "tools/bench/report.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "tinylm-server address");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates that verify a TLS server (enables TLS)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for a server that requires one");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding the server's bearer token");
ABSL_FLAG(std::string, models, "",
          "comma-separated models to measure (default: all that ListModels "
          "reports)");
ABSL_FLAG(std::string, concurrency, "1,8,32,64,128",
          "comma-separated numbers of concurrent streams");
ABSL_FLAG(int64_t, max_new_tokens, 128, "max_new_tokens of every request");
ABSL_FLAG(int64_t, prompt_tokens, 32, "tokens per prompt");
ABSL_FLAG(int64_t, num_prompts, 16, "prompts in the set (used round robin)");
ABSL_FLAG(std::string, prompts_file, "",
          "text file whose lines, tokenized by the server and joined, are "
          "cut into the prompts (default: synthetic token ids)");
ABSL_FLAG(double, duration_s, 10, "measured seconds per run");
ABSL_FLAG(int64_t, requests, 0,
          "if > 0: measure this many requests per run instead of a duration");
ABSL_FLAG(int64_t, warmup_requests, 1,
          "unmeasured requests per stream before each run");
ABSL_FLAG(int64_t, channels, 1,
          "gRPC channels (connections) the streams are spread over");
ABSL_FLAG(double, request_timeout_s, 300, "deadline of each request");
ABSL_FLAG(int64_t, max_tokens_per_message, 1,
          "tokens the server may put in one message when a stream falls "
          "behind (GenerateRequest.max_tokens_per_message)");
ABSL_FLAG(double, temperature, 0, "sampling temperature (0 = greedy)");
ABSL_FLAG(int64_t, top_k, 0, "top-k (0 = off)");
ABSL_FLAG(double, top_p, 1, "top-p (1 = off)");
ABSL_FLAG(double, min_p, 0, "min-p (0 = off)");
ABSL_FLAG(double, repetition_penalty, 1, "repetition penalty (1 = off)");
ABSL_FLAG(int64_t, seed, -1,
          "if >= 0: request n is sent with seed + n (else the server picks)");
ABSL_FLAG(std::string, json_out, "", "write the JSON report here");
ABSL_FLAG(std::string, md_out, "", "write the Markdown report here");
ABSL_FLAG(bool, wait_for_serving, false,
          "poll grpc.health.v1 until the server is SERVING first");
ABSL_FLAG(double, wait_timeout_s, 120, "give up waiting after this long");
ABSL_FLAG(bool, wait_only, false,
          "with --wait_for_serving: exit 0 once SERVING, run nothing");
ABSL_FLAG(std::string, commit, "", "source commit, recorded in the report");
ABSL_FLAG(std::string, label, "",
          "hardware / setting description, recorded in the report");

namespace tinylm {
namespace bench {
namespace {

constexpr int kExitSetup = 1;
constexpr int kExitFlags = 2;

absl::StatusOr<std::vector<int>> ParseConcurrency(const std::string& text) {
  std::vector<int> levels;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int level = 0;
    if (!absl::SimpleAtoi(part, &level) || level < 1 || level > 4096) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--concurrency: \"", part, "\" is not a number in [1, 4096]"));
    }
    levels.push_back(level);
  }
  if (levels.empty()) {
    return absl::InvalidArgumentError("--concurrency: no levels given");
  }
  return levels;
}

absl::Status CheckFlags() {
  auto positive = [](const char* name, double value) {
    return value > 0 ? absl::OkStatus()
                     : absl::InvalidArgumentError(
                           absl::StrCat("--", name, " must be positive"));
  };
  for (const absl::Status& s :
       {positive("max_new_tokens", absl::GetFlag(FLAGS_max_new_tokens)),
        positive("prompt_tokens", absl::GetFlag(FLAGS_prompt_tokens)),
        positive("num_prompts", absl::GetFlag(FLAGS_num_prompts)),
        positive("duration_s", absl::GetFlag(FLAGS_duration_s)),
        positive("channels", absl::GetFlag(FLAGS_channels)),
        positive("max_tokens_per_message",
                 absl::GetFlag(FLAGS_max_tokens_per_message)),
        positive("request_timeout_s", absl::GetFlag(FLAGS_request_timeout_s)),
        positive("wait_timeout_s", absl::GetFlag(FLAGS_wait_timeout_s))}) {
    if (!s.ok()) return s;
  }
  if (absl::GetFlag(FLAGS_warmup_requests) < 0 ||
      absl::GetFlag(FLAGS_requests) < 0) {
    return absl::InvalidArgumentError(
        "--warmup_requests and --requests must not be negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeChannels(
    const std::string& target, int64_t count) {
  ChannelSecurity security;
  security.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  security.tls_key = absl::GetFlag(FLAGS_tls_key);
  security.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int64_t i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // A server that is still starting must be found within a second, not
    // after gRPC's default reconnect back-off (up to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Channels with equal arguments would share one connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("tinylm.bench_channel", static_cast<int>(i));
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeClientChannel(target, security, args);
    if (!channel.ok()) return channel.status();
    channels.push_back(*std::move(channel));
  }
  return channels;
}

absl::StatusOr<std::vector<v1::ModelInfo>> SelectModels(
    v1::TinyLM::Stub* stub, const std::string& wanted) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::ListModelsResponse listing;
  const grpc::Status status =
      stub->ListModels(&context, v1::ListModelsRequest(), &listing);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("ListModels: ", StatusCodeName(status.error_code()), " ",
                     status.error_message()));
  }
  std::vector<v1::ModelInfo> models(listing.models().begin(),
                                    listing.models().end());
  if (wanted.empty()) return models;
  std::vector<v1::ModelInfo> selected;
  for (absl::string_view name :
       absl::StrSplit(wanted, ',', absl::SkipEmpty())) {
    bool found = false;
    for (const v1::ModelInfo& m : models) {
      if (m.name() == name) {
        selected.push_back(m);
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> names;
      for (const v1::ModelInfo& m : models) names.push_back(m.name());
      return absl::NotFoundError(absl::StrCat(
          "--models: \"", name,
          "\" is not served (served: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  return selected;
}

nlohmann::json ModelJson(const v1::ModelInfo& m) {
  return {{"variant", m.variant()},
          {"device", m.device()},
          {"dtype", m.dtype()},
          {"max_batch", m.max_batch()},
          {"parameters", m.parameters()},
          {"context_length", m.context_length()},
          {"vocab_size", m.dims().vocab_size()},
          {"checkpoint_sha256", m.checkpoint_sha256()}};
}

nlohmann::json SettingsJson(const std::vector<int>& levels) {
  return {
      {"concurrency", levels},
      {"max_new_tokens", absl::GetFlag(FLAGS_max_new_tokens)},
      {"prompt_tokens", absl::GetFlag(FLAGS_prompt_tokens)},
      {"num_prompts", absl::GetFlag(FLAGS_num_prompts)},
      {"prompts_file", absl::GetFlag(FLAGS_prompts_file)},
      {"duration_s", absl::GetFlag(FLAGS_duration_s)},
      {"requests", absl::GetFlag(FLAGS_requests)},
      {"warmup_requests_per_stream", absl::GetFlag(FLAGS_warmup_requests)},
      {"channels", absl::GetFlag(FLAGS_channels)},
      {"max_tokens_per_message", absl::GetFlag(FLAGS_max_tokens_per_message)},
      {"temperature", absl::GetFlag(FLAGS_temperature)},
      {"top_k", absl::GetFlag(FLAGS_top_k)},
      {"top_p", absl::GetFlag(FLAGS_top_p)},
      {"min_p", absl::GetFlag(FLAGS_min_p)},
      {"repetition_penalty", absl::GetFlag(FLAGS_repetition_penalty)},
      {"seed", absl::GetFlag(FLAGS_seed)},
  };
}

LoadOptions LoadOptionsFromFlags(const std::string& model, int concurrency) {
  LoadOptions o;
  o.model = model;
  o.concurrency = concurrency;
  o.warmup_requests = static_cast<int>(absl::GetFlag(FLAGS_warmup_requests));
  o.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  o.requests = absl::GetFlag(FLAGS_requests);
  o.max_new_tokens = static_cast<uint32_t>(absl::GetFlag(FLAGS_max_new_tokens));
  o.request_timeout = absl::Seconds(absl::GetFlag(FLAGS_request_timeout_s));
  o.max_tokens_per_message =
      static_cast<uint32_t>(absl::GetFlag(FLAGS_max_tokens_per_message));
  o.sampling.temperature = absl::GetFlag(FLAGS_temperature);
  o.sampling.top_k = static_cast<uint32_t>(absl::GetFlag(FLAGS_top_k));
  o.sampling.top_p = absl::GetFlag(FLAGS_top_p);
  o.sampling.min_p = absl::GetFlag(FLAGS_min_p);
  o.sampling.repetition_penalty = absl::GetFlag(FLAGS_repetition_penalty);
  o.sampling.seed = absl::GetFlag(FLAGS_seed);
  return o;
}

absl::StatusOr<std::vector<Prompt>> BuildPrompts(v1::TinyLM::Stub* stub,
                                                 const v1::ModelInfo& model) {
  PromptOptions options;
  options.file = absl::GetFlag(FLAGS_prompts_file);
  options.tokens = absl::GetFlag(FLAGS_prompt_tokens);
  options.count = absl::GetFlag(FLAGS_num_prompts);
  const int64_t needed = options.tokens + absl::GetFlag(FLAGS_max_new_tokens);
  if (needed > model.context_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prompt_tokens + --max_new_tokens = ", needed,
                     " exceeds the context length ", model.context_length(),
                     " of model \"", model.name(), "\""));
  }
  if (options.file.empty()) {
    return SyntheticPrompts(options, model.dims().vocab_size());
  }
  return PromptsFromFile(stub, model.name(), options);
}

int64_t ErrorCount(const RunStats& stats) {
  int64_t errors = 0;
  for (const auto& [code, count] : stats.errors) errors += count;
  return errors;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::cerr << "tinylm-bench: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

int Run() {
  const absl::Status flags = CheckFlags();
  absl::StatusOr<std::vector<int>> levels =
      ParseConcurrency(absl::GetFlag(FLAGS_concurrency));
  if (!flags.ok() || !levels.ok()) {
    std::cerr << "tinylm-bench: "
              << (flags.ok() ? levels.status() : flags).message() << "\n";
    return kExitFlags;
  }
  const std::string server = absl::GetFlag(FLAGS_server);
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> made =
      MakeChannels(server, absl::GetFlag(FLAGS_channels));
  if (!made.ok()) {
    std::cerr << "tinylm-bench: " << made.status().message() << "\n";
    return kExitFlags;
  }
  const std::vector<std::shared_ptr<grpc::Channel>> channels = *std::move(made);
  if (absl::GetFlag(FLAGS_wait_for_serving)) {
    const absl::Status serving = WaitForServing(
        channels[0], absl::Seconds(absl::GetFlag(FLAGS_wait_timeout_s)));
    if (!serving.ok()) {
      std::cerr << "tinylm-bench: " << server << ": " << serving.message()
                << "\n";
      return kExitSetup;
    }
    if (absl::GetFlag(FLAGS_wait_only)) return 0;
  }
  std::unique_ptr<v1::TinyLM::Stub> stub = v1::TinyLM::NewStub(channels[0]);
  absl::StatusOr<std::vector<v1::ModelInfo>> models =
      SelectModels(stub.get(), absl::GetFlag(FLAGS_models));
  if (!models.ok()) {
    std::cerr << "tinylm-bench: " << server << ": " << models.status().message()
              << "\n";
    return kExitSetup;
  }

  nlohmann::json report;
  report["meta"] = {{"tool", "tinylm-bench"},
                    {"date", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                              absl::UTCTimeZone())},
                    {"server", server},
                    {"commit", absl::GetFlag(FLAGS_commit)},
                    {"label", absl::GetFlag(FLAGS_label)},
                    {"settings", SettingsJson(*levels)}};
  report["models"] = nlohmann::json::object();
  report["results"] = nlohmann::json::array();
  for (const v1::ModelInfo& model : *models) {
    absl::StatusOr<std::vector<Prompt>> prompts =
        BuildPrompts(stub.get(), model);
    if (!prompts.ok()) {
      std::cerr << "tinylm-bench: " << prompts.status().message() << "\n";
      return kExitSetup;
    }
    nlohmann::json& entry = report["models"][model.name()];
    entry = ModelJson(model);
    entry["prompts"] = *prompts;
    Outputs outputs;
    for (const int level : *levels) {
      const LoadResult load =
          RunLoad(channels, *prompts, LoadOptionsFromFlags(model.name(), level),
                  &outputs);
      const RunStats stats = ComputeRunStats(load.records, load.window);
      nlohmann::json run =
          RunJson(model.name(), level, stats, load.warmup_errors);
      run["greedy_mismatches"] = load.greedy_mismatches;
      report["results"].push_back(std::move(run));
      std::cerr << absl::StrFormat(
          "tinylm-bench: %s c=%d: %.1f tokens/s, %.2f requests/s, TTFT p50 "
          "%.2f ms, ITL p50 %.3f ms, %.2f tokens/message, %d errors, %d "
          "greedy mismatches\n",
          model.name(), level, stats.output_tokens_per_s, stats.requests_per_s,
          stats.ttft_ms.p50, stats.itl_ms.p50, stats.tokens_per_message,
          ErrorCount(stats), load.greedy_mismatches);
    }
    entry["outputs"] = nlohmann::json::object();
    for (const auto& [index, ids] : outputs) {
      entry["outputs"][std::to_string(index)] = ids;
    }
  }

  const std::string markdown = MarkdownFromJson(report);
  std::cout << markdown;
  bool written = true;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    written &= WriteFile(absl::GetFlag(FLAGS_json_out), report.dump(2) + "\n");
  }
  if (!absl::GetFlag(FLAGS_md_out).empty()) {
    written &= WriteFile(absl::GetFlag(FLAGS_md_out), markdown);
  }
  return written ? 0 : kExitSetup;
}

}  // namespace
}  // namespace bench
}  // namespace tinylm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Closed-loop load generator for tinylm-server; see --help.");
  absl::ParseCommandLine(argc, argv);
  return tinylm::bench::Run();
}
