// The tinylm flags (defined here and nowhere else) and their conversion to
// CliOptions. Numbers a person may leave to the server's default are string
// flags: "" means unset.
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli_options.h"
#include "client/rpc/target.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "HOST[:PORT] of tinylm-server (port 50051 when left out; IPv6 as "
          "[ADDRESS]), or a gRPC target such as unix:PATH or "
          "dns:///HOST:PORT");
ABSL_FLAG(std::string, model, "",
          "model to use (see `tinylm models`; may be left out when the "
          "server has only one)");
ABSL_FLAG(std::string, timeout, "",
          "deadline of each call, e.g. 30s or 5m; 0 = none (default: 1m, "
          "none for generate's stream)");
ABSL_FLAG(bool, json, false,
          "machine-readable JSON on stdout (generate: one object per line; "
          "attention: also a JSON file of the matrices)");
ABSL_FLAG(int32_t, width, 0, "table width in columns (0 = the terminal's)");

ABSL_FLAG(bool, tls, false,
          "connect with TLS, verifying the server against the system's CA "
          "certificates (implied by the other --tls_* flags)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates that verify the server (TLS)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for servers that require one (mTLS; "
          "with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "name the server's certificate must carry, when it differs from "
          "--server's host");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding the server's bearer token, sent with every call");

ABSL_FLAG(uint32_t, max_new_tokens, 0,
          "tokens to generate (0 = server default: 64 for generate, 32 for "
          "compare, capped by the context)");
ABSL_FLAG(std::string, temperature, "",
          "sampling temperature in [0, 100]; 0 = greedy (default 1.0; "
          "attention's continuation: greedy)");
ABSL_FLAG(uint32_t, top_k, 0, "sample among the k most probable (0 = all)");
ABSL_FLAG(std::string, top_p, "",
          "nucleus sampling mass in (0, 1] "
          "(default 1.0)");
ABSL_FLAG(double, min_p, 0.0,
          "drop tokens with p < min_p * p_max, in [0, 1) (0 = off)");
ABSL_FLAG(std::string, repetition_penalty, "",
          "in [0.01, 10]; > 1 discourages repeats (default 1.0)");
ABSL_FLAG(std::string, seed, "",
          "random seed for reproducible sampling (default: the server picks "
          "one and reports it)");
ABSL_FLAG(std::vector<std::string>, stop, {},
          "comma-separated stop strings (generation ends before them)");
ABSL_FLAG(uint32_t, top_n, 0,
          "generate: also report the n most probable alternatives per token "
          "(0..20; shown with --json)");
ABSL_FLAG(bool, echo, true,
          "generate: print the prompt before the "
          "continuation");
ABSL_FLAG(std::vector<std::string>, ids, {},
          "generate/topk/attention: the prompt as comma-separated token ids "
          "instead of text");

ABSL_FLAG(uint32_t, k, 5, "topk/compare: how many next tokens to list");

ABSL_FLAG(std::vector<std::string>, layers, {},
          "attention: comma-separated layers to draw (default all)");
ABSL_FLAG(std::string, head, "",
          "attention: draw only this head (default: every head as a panel)");
ABSL_FLAG(uint32_t, continuation_tokens, 0,
          "attention: generate this many tokens first and draw prompt + "
          "continuation");
ABSL_FLAG(std::string, out, ".", "attention: directory for the files");
ABSL_FLAG(bool, csv, false,
          "attention: also write each matrix as CSV (one file per layer and "
          "head)");
ABSL_FLAG(bool, fp16, false,
          "attention: fetch float16 matrices (half the bytes, for long "
          "prompts)");
ABSL_FLAG(std::string, font, "",
          "font family of the heatmap labels (default: the first Japanese "
          "font installed, Noto Sans CJK JP first)");

ABSL_FLAG(std::string, rows, "",
          "attention: query rows A:B to fetch and draw (default all; long "
          "prompts draw an overview and the last 48 rows labelled)");

ABSL_FLAG(std::vector<std::string>, models, {},
          "compare/score: comma-separated models (default all)");
ABSL_FLAG(std::string, png, "",
          "compare: also write the models' last-layer heatmaps side by side "
          "into this PNG file; lens/score: the picture's file");

ABSL_FLAG(std::vector<std::string>, ablate, {},
          "topk/score/generate: ablations KIND:LAYER[.HEAD][:mean], "
          "comma-separated; KIND is head (a head's output), attn (the "
          "attention output) or mlp; zero unless :mean");
ABSL_FLAG(std::vector<std::string>, patch, {},
          "topk/score/generate: activation patches KIND:LAYER[.HEAD][@POS] "
          "from --patch_prompt, comma-separated; KIND is residual (the "
          "stream after the block) or pattern (attention weights)");
ABSL_FLAG(std::string, patch_prompt, "",
          "the source of --patch (as many tokens as the prompt)");
ABSL_FLAG(std::vector<std::string>, positions, {},
          "lens: comma-separated prompt positions (default the last)");
ABSL_FLAG(bool, stats, false,
          "compare: also the attention statistics of every layer and head");
ABSL_FLAG(uint32_t, top_keys, 0,
          "stats: also list each query's most attended keys (0..16)");

namespace tinylm {
namespace {

absl::Status BadFlag(absl::string_view flag, absl::string_view value,
                     absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, ": expected ", expected));
}

absl::StatusOr<std::optional<float>> OptionalFloat(absl::string_view flag,
                                                   const std::string& value) {
  if (value.empty()) return std::nullopt;
  float parsed;
  if (!absl::SimpleAtof(value, &parsed))
    return BadFlag(flag, value, "a number");
  return parsed;
}

template <typename Int>
absl::StatusOr<std::vector<Int>> IntList(absl::string_view flag,
                                         const std::vector<std::string>& in) {
  std::vector<Int> out;
  for (const std::string& item : in) {
    Int parsed;
    if (!absl::SimpleAtoi(item, &parsed)) {
      return BadFlag(flag, item, "comma-separated non-negative integers");
    }
    out.push_back(parsed);
  }
  return out;
}

absl::Status ReadSampling(SamplingOptions* s) {
  auto temperature =
      OptionalFloat("temperature", absl::GetFlag(FLAGS_temperature));
  if (!temperature.ok()) return temperature.status();
  s->temperature = *temperature;
  auto top_p = OptionalFloat("top_p", absl::GetFlag(FLAGS_top_p));
  if (!top_p.ok()) return top_p.status();
  s->top_p = *top_p;
  auto penalty = OptionalFloat("repetition_penalty",
                               absl::GetFlag(FLAGS_repetition_penalty));
  if (!penalty.ok()) return penalty.status();
  s->repetition_penalty = *penalty;
  s->top_k = absl::GetFlag(FLAGS_top_k);
  s->min_p = absl::GetFlag(FLAGS_min_p);
  const std::string seed = absl::GetFlag(FLAGS_seed);
  if (!seed.empty()) {
    uint64_t parsed;
    if (!absl::SimpleAtoi(seed, &parsed)) {
      return BadFlag("seed", seed, "a non-negative integer");
    }
    s->seed = parsed;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CliOptions> OptionsFromFlags() {
  CliOptions o;
  o.server = WithDefaultPort(absl::GetFlag(FLAGS_server), kServerDefaultPort);
  if (o.server.empty()) return BadFlag("server", "", "HOST[:PORT]");
  o.model = absl::GetFlag(FLAGS_model);
  const std::string timeout = absl::GetFlag(FLAGS_timeout);
  if (!timeout.empty()) {
    absl::Duration parsed;
    if (!absl::ParseDuration(timeout, &parsed) ||
        parsed < absl::ZeroDuration()) {
      return BadFlag("timeout", timeout, "a duration such as 30s, or 0");
    }
    o.timeout =
        parsed == absl::ZeroDuration() ? absl::InfiniteDuration() : parsed;
  }
  o.json = absl::GetFlag(FLAGS_json);
  o.security.tls = absl::GetFlag(FLAGS_tls);
  o.security.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  o.security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.security.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.security.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.security.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  o.width = absl::GetFlag(FLAGS_width);
  if (o.width < 0) return BadFlag("width", absl::StrCat(o.width), ">= 0");

  o.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  if (absl::Status s = ReadSampling(&o.sampling); !s.ok()) return s;
  o.stop = absl::GetFlag(FLAGS_stop);
  o.top_n = absl::GetFlag(FLAGS_top_n);
  o.echo = absl::GetFlag(FLAGS_echo);
  auto ids = IntList<int32_t>("ids", absl::GetFlag(FLAGS_ids));
  if (!ids.ok()) return ids.status();
  o.ids = *ids;

  o.k = absl::GetFlag(FLAGS_k);
  auto layers = IntList<uint32_t>("layers", absl::GetFlag(FLAGS_layers));
  if (!layers.ok()) return layers.status();
  o.layers = *layers;
  const std::string head = absl::GetFlag(FLAGS_head);
  if (!head.empty()) {
    uint32_t parsed;
    if (!absl::SimpleAtoi(head, &parsed)) {
      return BadFlag("head", head, "a non-negative integer");
    }
    o.head = parsed;
  }
  o.continuation_tokens = absl::GetFlag(FLAGS_continuation_tokens);
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.csv = absl::GetFlag(FLAGS_csv);
  o.fp16 = absl::GetFlag(FLAGS_fp16);
  o.font = absl::GetFlag(FLAGS_font);

  o.models = absl::GetFlag(FLAGS_models);
  o.png = absl::GetFlag(FLAGS_png);

  o.ablate = absl::GetFlag(FLAGS_ablate);
  o.patch = absl::GetFlag(FLAGS_patch);
  o.patch_prompt = absl::GetFlag(FLAGS_patch_prompt);
  auto positions =
      IntList<uint32_t>("positions", absl::GetFlag(FLAGS_positions));
  if (!positions.ok()) return positions.status();
  o.positions = *positions;
  o.stats = absl::GetFlag(FLAGS_stats);
  o.top_keys = absl::GetFlag(FLAGS_top_keys);
  const std::string rows = absl::GetFlag(FLAGS_rows);
  if (!rows.empty()) {
    const std::vector<std::string> ends = absl::StrSplit(rows, ':');
    uint32_t first, last;
    if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &first) ||
        !absl::SimpleAtoi(ends[1], &last) || first >= last) {
      return BadFlag("rows", rows, "A:B with A < B");
    }
    o.rows = std::make_pair(first, last);
  }
  return o;
}

}  // namespace tinylm
