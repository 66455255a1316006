// tinylm-decode-bench: one decode step of the shipped-size and article-size
// models (base variant, bf16, random weights), fused (FusedDecoder) vs
// LibTorch (Transformer::Forward with the KV cache and fused attention, as
// the server's static runner calls it), each captured in a CUDA graph and
// replayed. Every row of a batch sits at position `context` - 1, so each
// step reads `context` cached keys and values per row and layer.
//
// Per configuration: the median step time over 50 samples of 10 replays
// back to back (after warm-up), the floor (weights read once plus the KV
// read, at 4.3 TB/s), for the fused step a per-kernel breakdown (each
// stage of all layers captured alone; the products also at each forced
// tile width, GemmArgs::tiling), and a prefill step of one prompt of
// `rows` tokens, fused (FusedDecoder::Prefill) and LibTorch (Forward over
// the prompt, the logits of its last position). Also the device sampler
// over the step's `rows` logits rows (kernels/decode/sampling.h: greedy;
// temperature 1 with top-p 0.9; the same with 5 alternatives) beside
// SampleTokens (models/sampler.h, LibTorch's ops and the host transfer) for
// the sampled rows, and attention alone over 1, 2, 4 and 8 blocks a row
// beside the launcher's choice. A table on stdout, JSON lines to --json.
//   tinylm-decode-bench [--sizes=shipped,article] [--rows=1,8,32,64,128]
//                       [--json=FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/GradMode.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "kernels/decode/decode_attention.h"
#include "kernels/decode/fused_decoder.h"
#include "kernels/decode/sampling.h"
#include "models/config.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "models/sampler.h"

namespace tinylm {
namespace {

constexpr double kBandwidth = 4.3e12;  // bytes/s, device-to-device copy rate

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t end = std::min(s.find(',', begin), s.size());
    if (end > begin) out.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

double Median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Median seconds per call of `step`, captured once into a graph and
// replayed 10 times per sample.
double TimeGraph(const std::function<void()>& step) {
  cudaDeviceSynchronize();  // inputs made on the default stream are ready
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(stream);
  step();  // warm-up outside the capture
  stream.synchronize();
  at::cuda::CUDAGraph graph;
  graph.capture_begin();
  step();
  graph.capture_end();
  for (int i = 0; i < 20; ++i) graph.replay();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> samples;
  for (int s = 0; s < 50; ++s) {
    cudaEventRecord(start, stream);
    for (int i = 0; i < 10; ++i) graph.replay();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    samples.push_back(ms * 1e-3 / 10);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return Median(samples);
}

// Median seconds of SampleTokens over `logits` (it ends with a host copy,
// so wall time is device time plus its launches).
double TimeSampleTokens(const at::Tensor& logits,
                        const std::vector<SampleRow>& rows) {
  SampleTokens(logits, rows);  // warm-up
  std::vector<double> samples;
  for (int s = 0; s < 20; ++s) {
    const auto start = std::chrono::steady_clock::now();
    SampleTokens(logits, rows);
    samples.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return Median(samples);
}

// The device sampler's times over `logits` [rows, V] as JSON fields:
// greedy, sampled (temperature 1, top-p 0.9), sampled with 5 alternatives,
// and SampleTokens for the sampled rows.
std::string SamplerTimes(const at::Tensor& logits) {
  const int64_t rows = logits.size(0), V = logits.size(1);
  const auto on_gpu = at::TensorOptions().device(at::kCUDA);
  const at::Tensor ones = at::ones({rows}, on_gpu);
  const at::Tensor top_p = at::full({rows}, 0.9, on_gpu);
  const at::Tensor uniform = at::rand({rows}, on_gpu);
  const at::Tensor five = at::full({rows}, 5, on_gpu.dtype(at::kInt));
  at::Tensor token = at::empty({rows}, on_gpu.dtype(at::kInt));
  at::Tensor logprob = at::empty({rows}, on_gpu);
  at::Tensor alternatives =
      at::empty({rows, 2 * decode::kMaxAlternatives}, on_gpu.dtype(at::kInt));
  decode::SamplingArgs a;
  a.rows = static_cast<int>(rows);
  a.vocab = static_cast<int>(V);
  a.logits = logits.const_data_ptr<float>();
  a.logits_stride = V;
  a.token = token.data_ptr<int>();
  a.logprob = logprob.data_ptr<float>();
  auto time = [&](const decode::SamplingArgs& args) {
    return TimeGraph([&] {
      decode::LaunchSampling(args, c10::cuda::getCurrentCUDAStream(), true);
    });
  };
  const double greedy = time(a);
  a.inverse_temperature = ones.const_data_ptr<float>();
  a.top_p = top_p.const_data_ptr<float>();
  a.uniform = uniform.const_data_ptr<float>();
  const double sampled = time(a);
  a.top_n = five.const_data_ptr<int>();
  a.alternative_ids = alternatives.data_ptr<int>();
  a.alternative_logprobs =
      reinterpret_cast<float*>(alternatives.data_ptr<int>()) +
      decode::kMaxAlternatives;
  a.alternative_stride = 2 * decode::kMaxAlternatives;
  const double with_alternatives = time(a);
  std::vector<SampleRow> sample_rows(rows);
  for (int64_t b = 0; b < rows; ++b) {
    sample_rows[b].params.top_p = 0.9;
    sample_rows[b].position = b;
  }
  const double reference = TimeSampleTokens(logits, sample_rows);
  char line[256];
  std::snprintf(line, sizeof line,
                ", \"sampler_greedy_us\": %.2f, \"sampler_sampled_us\": %.2f, "
                "\"sampler_alternatives_us\": %.2f, "
                "\"sample_tokens_us\": %.2f",
                greedy * 1e6, sampled * 1e6, with_alternatives * 1e6,
                reference * 1e6);
  return line;
}

// Attention alone (all layers' launches, per layer) at each number of
// blocks per row and the launcher's own choice, every row at position
// `context` - 1, as JSON fields; the choice is made from these times.
std::string AttentionSpread(const ModelConfig& config, KvCache& cache,
                            int64_t rows, int64_t context) {
  const auto on_gpu = at::TensorOptions().device(at::kCUDA);
  const int64_t H = config.n_head, hs = config.head_size();
  const at::Tensor q = at::randn({rows, H * hs}, on_gpu.dtype(at::kBFloat16));
  at::Tensor y = at::empty_like(q);
  const at::Tensor positions =
      at::full({rows}, context - 1, on_gpu.dtype(at::kInt));
  const at::Tensor slots = at::arange(rows, on_gpu.dtype(at::kInt));
  decode::AttentionArgs a;
  a.rows = rows;
  a.heads = H;
  a.groups = config.n_query_groups;
  a.head_size = hs;
  a.q = reinterpret_cast<const decode::bf16*>(q.const_data_ptr());
  a.num_slots = cache.keys(0).size(0);
  a.max_len = cache.keys(0).size(1);
  a.positions = positions.const_data_ptr<int>();
  a.slots = slots.const_data_ptr<int>();
  a.y = reinterpret_cast<decode::bf16*>(y.data_ptr());
  auto time = [&](int blocks) {
    a.blocks_per_row = blocks;
    return TimeGraph([&] {
             for (int64_t l = 0; l < config.n_layer; ++l) {
               a.k_cache = reinterpret_cast<const decode::bf16*>(
                   cache.keys(l).const_data_ptr());
               a.v_cache = reinterpret_cast<const decode::bf16*>(
                   cache.values(l).const_data_ptr());
               const cudaError_t status = decode::LaunchDecodeAttention(
                   a, c10::cuda::getCurrentCUDAStream(), true);
               TORCH_CHECK(status == cudaSuccess, "attention at ", blocks,
                           " blocks a row: ", cudaGetErrorString(status));
             }
           }) /
           config.n_layer * 1e6;
  };
  std::string fields;
  char field[96];
  for (int blocks : {1, 2, 4, 8}) {
    std::snprintf(field, sizeof field, ", \"attention_%lld_by_%d_us\": %.2f",
                  (long long)context, blocks, time(blocks));
    fields += field;
  }
  a.blocks_per_row = 0;
  std::snprintf(field, sizeof field,
                ", \"attention_%lld_auto_blocks\": %d, "
                "\"attention_%lld_auto_us\": %.2f",
                (long long)context, decode::AttentionBlocksPerRow(a),
                (long long)context, time(0));
  return fields + field;
}

int64_t WeightBytes(const ModelConfig& c, int64_t rows) {
  const int64_t C = c.n_embd, hs = c.head_size();
  const int64_t per_layer = (c.n_head + 2 * c.n_query_groups) * hs * C +
                            C * c.n_head * hs + 3 * c.intermediate_size * C +
                            2 * C;
  return 2 * (c.n_layer * per_layer + c.vocab_size * C + C + rows * C);
}

void Run(const std::string& size, int64_t rows, int64_t context,
         std::ofstream& json) {
  c10::NoGradGuard no_grad;
  ModelConfig config = *MakeConfig(size == "shipped" ? "small" : size, "base");
  config.vocab_size = 8000;  // the article's model with the shipped tokenizer
  Transformer model(config);
  model->to(at::kCUDA, at::kBFloat16);
  const int64_t S = rows + 1, L = config.block_size, V = config.vocab_size;
  KvCache cache(config, S, L, at::kCUDA, at::kBFloat16);
  for (int64_t i = 0; i < config.n_layer; ++i) {
    cache.keys(i).normal_(0.0, 1.0);
    cache.values(i).normal_(0.0, 1.0);
  }
  FusedDecoder decoder(model, cache, rows);
  const auto on_gpu = at::TensorOptions().device(at::kCUDA);
  const at::Tensor tokens =
      at::randint(V, {rows}, on_gpu.dtype(at::kLong)).to(at::kInt);
  const at::Tensor positions =
      at::full({rows}, context - 1, on_gpu.dtype(at::kInt));
  const at::Tensor slots = at::arange(rows, on_gpu.dtype(at::kInt));
  at::Tensor logits = at::empty({rows, V}, on_gpu);

  const double fused =
      TimeGraph([&] { decoder.Decode(tokens, positions, slots, logits); });
  const double fused_no_pdl = TimeGraph([&] {
    decoder.Decode(tokens, positions, slots, logits, nullptr, false);
  });
  // The reference's inputs as the static runner keeps them: int64 on the
  // device (a capture may not upload), slots consecutive.
  std::vector<int64_t> slot_list(rows);
  for (int64_t b = 0; b < rows; ++b) slot_list[b] = b;
  const at::Tensor tokens64 = tokens.to(at::kLong).view({rows, 1});
  const at::Tensor positions64 = positions.to(at::kLong).view({rows, 1});
  const at::Tensor slots64 = slots.to(at::kLong);
  // Transformer::Forward over the cache, as the static runner calls it.
  auto cached_input = [&](const at::Tensor& step_tokens,
                          const at::Tensor& step_positions,
                          const at::Tensor& slot_rows, int64_t kv_length) {
    ForwardInput in;
    in.tokens = step_tokens;
    in.positions = step_positions;
    in.cache = &cache;
    in.slot_rows = slot_rows;
    in.kv_length = kv_length;
    in.fused_attention = true;
    return in;
  };
  const double reference = TimeGraph([&] {
    ForwardInput in = cached_input(tokens64, positions64, slots64, context);
    in.slots = slot_list;
    model->Forward(in);
  });

  // Prefill of one prompt of `rows` tokens into slot 0.
  const at::Tensor prompt_positions = at::arange(rows, on_gpu.dtype(at::kInt));
  const at::Tensor prompt_slots = at::zeros({rows}, on_gpu.dtype(at::kInt));
  const double prefill = TimeGraph(
      [&] { decoder.Prefill(tokens, prompt_positions, prompt_slots, logits); });
  const at::Tensor prompt64 = tokens.to(at::kLong).view({1, rows});
  const at::Tensor prompt_positions64 =
      prompt_positions.to(at::kLong).view({1, rows});
  const at::Tensor first_slot = at::zeros({1}, on_gpu.dtype(at::kLong));
  const at::Tensor last_position =
      at::full({1}, rows - 1, on_gpu.dtype(at::kLong));
  const double prefill_reference = TimeGraph([&] {
    ForwardInput in =
        cached_input(prompt64, prompt_positions64, first_slot, rows);
    in.logits_at = last_position;
    model->Forward(in);
  });

  // Per stage: all layers' launches of that kernel, captured alone.
  const char* names[] = {"embedding", "attn_input", "attention", "attn_proj",
                         "mlp_input", "mlp_proj",   "head"};
  decode::DecodeIo io;
  io.rows = rows;
  io.tokens = tokens.const_data_ptr<int>();
  io.positions = positions.const_data_ptr<int>();
  io.slots = slots.const_data_ptr<int>();
  io.logits = logits.data_ptr<float>();
  auto us = [](double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", seconds * 1e6);
    return std::string(text);
  };
  std::string breakdown, widths;
  for (int s = 0; s < 7; ++s) {
    const auto stage = static_cast<decode::DecodeStage>(s);
    const bool per_layer = s != 0 && s != 6;
    const int launches = per_layer ? config.n_layer : 1;
    auto enqueue = [&] {
      cudaError_t e = cudaSuccess;
      for (int l = 0; l < launches && e == cudaSuccess; ++l) {
        e = decoder.step().EnqueueStage(
            stage, l, decoder.weights(), io, decoder.workspace(),
            c10::cuda::getCurrentCUDAStream(), true);
      }
      return e;
    };
    const double t = TimeGraph([&] { enqueue(); });
    breakdown += std::string(s ? ", " : "") + "\"" + names[s] +
                 "_us\": " + std::to_string(t / launches * 1e6);
    // A product at each forced tile width (GemmArgs::tiling; a width K's
    // registers do not allow fails to launch and is left out): what
    // ChooseGemmTiling is measured against.
    if (s == 0 || s == 2) continue;
    widths +=
        std::string("  ") + names[s] + " " + us(t / launches) + " (chosen)";
    for (int width : {1, 2, 4}) {
      io.gemm_tiling = {width, 0};
      if (enqueue() == cudaSuccess) {
        const double forced = TimeGraph([&] { enqueue(); }) / launches;
        breakdown += ", \"" + std::string(names[s]) + "_width_" +
                     std::to_string(width) + "_us\": " + us(forced);
        widths += ", " + std::to_string(width) + ": " + us(forced);
      }
      io.gemm_tiling = {0, 0};
    }
  }
  breakdown += SamplerTimes(logits);
  // Attention spread over 1..8 blocks a row, at this context and a quarter
  // of it (the serving benchmark's rows hold 32..160 keys).
  breakdown += AttentionSpread(config, cache, rows, context);
  breakdown += AttentionSpread(config, cache, rows, context / 4);

  const int64_t kv_bytes = rows * context * config.n_query_groups *
                           config.head_size() * 2 * 2 * config.n_layer;
  const double floor = (WeightBytes(config, rows) + kv_bytes) / kBandwidth;
  std::printf(
      "| %-7s | %4lld | %6lld | %9.1f | %9.1f | %9.1f | %7.1f | %6.2fx | "
      "%9.1f | %9.1f |\n",
      size.c_str(), (long long)rows, (long long)context, fused * 1e6,
      fused_no_pdl * 1e6, reference * 1e6, floor * 1e6, reference / fused,
      prefill * 1e6, prefill_reference * 1e6);
  std::printf("products alone, us (chosen tiling, then each width):%s\n",
              widths.c_str());
  std::fflush(stdout);
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"size\": \"%s\", \"rows\": %lld, \"context\": %lld, "
                "\"fused_us\": %.2f, \"fused_no_pdl_us\": %.2f, "
                "\"libtorch_us\": %.2f, \"floor_us\": %.2f, "
                "\"weight_bytes\": %lld, \"kv_bytes\": %lld, "
                "\"prefill_fused_us\": %.2f, \"prefill_libtorch_us\": %.2f, ",
                size.c_str(), (long long)rows, (long long)context, fused * 1e6,
                fused_no_pdl * 1e6, reference * 1e6, floor * 1e6,
                (long long)WeightBytes(config, rows), (long long)kv_bytes,
                prefill * 1e6, prefill_reference * 1e6);
  json << line << breakdown << "}\n";
  json.flush();
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) {
  std::string sizes = "shipped,article", rows = "1,8,32,64,128",
              json_path = "decode_bench.jsonl";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) {
      const std::string prefix = std::string(flag) + "=";
      return arg.rfind(prefix, 0) == 0 ? arg.substr(prefix.size()) : "";
    };
    if (!value("--sizes").empty())
      sizes = value("--sizes");
    else if (!value("--rows").empty())
      rows = value("--rows");
    else if (!value("--json").empty())
      json_path = value("--json");
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (!at::hasCUDA()) {
    std::fprintf(stderr, "tinylm-decode-bench needs a CUDA device\n");
    return 1;
  }
  std::ofstream json(json_path);
  std::printf(
      "step time per token-step, microseconds (median of 50 x 10 graph "
      "replays); floor = (weights + KV read) / 4.3 TB/s\n");
  std::printf(
      "| size    | rows | context | fused | fused, no PDL | LibTorch | floor | "
      "speed-up | prefill of `rows` tokens, fused | LibTorch |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& size : tinylm::Split(sizes)) {
    for (const std::string& r : tinylm::Split(rows)) {
      const int64_t context = size == "shipped" ? 160 : 512;
      tinylm::Run(size, std::stoll(r), context, json);
    }
  }
  return 0;
}
