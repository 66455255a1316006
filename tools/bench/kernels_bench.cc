// tinylm-kernels-bench: times each kernel of kernels/ against its LibTorch
// reference at the article's training shape (B = 16, T = 1024, C = 768, one
// head of hs = 768, I = 1536, V = 8000, bfloat16 activations), and one
// layer's attention forward + backward four ways: ours (two matrix products
// around the fused softmax), SDPA with is_causal, SDPA with an additive
// bias (what score_fcn needs), and plain matmul-softmax-matmul in LibTorch.
//
// Each measurement: CUDA events around one call, median (and minimum) of
// kReps calls after kWarmup, inputs rotated among copies so that the L2
// does not serve them. First the two ceilings of this card: device copy
// bandwidth and a large bf16 matrix product. Prints a table and writes one
// JSON line per measurement to the file named on the command line.
//   tinylm-kernels-bench OUT.jsonl
#include <ATen/TensorOperators.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/rms_norm.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/sqrt.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/torch/causal_attention_op.h"
#include "kernels/torch/cross_entropy_op.h"
#include "kernels/torch/optimizer_ops.h"
#include "kernels/torch/qkv_post_op.h"
#include "kernels/torch/rms_norm_op.h"
#include "kernels/torch/swiglu_op.h"
#include "models/rope.h"

namespace tinylm {
namespace {

constexpr int64_t kB = 16, kT = 1024, kC = 768, kI = 1536, kV = 8000;
constexpr int64_t kN = kB * kT;
// The article model's parameters with V = 8000 (base variant), in the two
// flat buffers of train/flat_parameters.h.
constexpr int64_t kDecayed =
    2 * kV * kC + 10 * (3 * kC * kC + kC * kC + 3 * kI * kC);
constexpr int64_t kUndecayed = 21 * kC;
constexpr int kWarmup = 5, kReps = 40;
constexpr double kL2Bytes = 60e6;

const auto kBf16 = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
const auto kF32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);

using Grads = std::vector<at::Tensor>;

struct Row {
  std::string op, impl, pass;
  double median_ms, min_ms, bytes, flops;

  double GBps() const { return bytes / (median_ms * 1e-3) / 1e9; }
  double TFlops() const { return flops / (median_ms * 1e-3) / 1e12; }
};

// What this card does at best, measured first: the floors of the table.
struct Ceilings {
  double copy_gbps = 0;
  double matmul_tflops = 0;
};

class Bench {
 public:
  explicit Bench(FILE* json) : json_(json) {}

  // Copies of the inputs needed so that `bytes` of them overflow the L2
  // three times over (at most 4).
  static int Sets(double bytes) {
    return int(std::clamp(std::ceil(3 * kL2Bytes / bytes), 1.0, 4.0));
  }

  // Times run(i % sets) for i = 0, 1, ...; bytes and flops are what one call
  // must move and compute at least (0 when not meaningful).
  void Time(const std::string& op, const std::string& impl,
            const std::string& pass, double bytes, double flops, int sets,
            const std::function<void(int)>& run) {
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    for (int i = 0; i < kWarmup; ++i) run(i % sets);
    std::vector<float> ms;
    for (int i = 0; i < kReps; ++i) {
      cudaEventRecord(start, stream);
      run(i % sets);
      cudaEventRecord(stop, stream);
      cudaEventSynchronize(stop);
      float elapsed = 0;
      cudaEventElapsedTime(&elapsed, start, stop);
      ms.push_back(elapsed);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    const cudaError_t status = cudaGetLastError();
    TORCH_CHECK(status == cudaSuccess, op, " ", impl, ": ",
                cudaGetErrorString(status));
    std::sort(ms.begin(), ms.end());
    rows_.push_back({op, impl, pass, ms[ms.size() / 2], ms[0], bytes, flops});
    const Row& r = rows_.back();
    std::fprintf(
        json_,
        "{\"bench\": \"kernels\", \"op\": \"%s\", \"impl\": \"%s\", "
        "\"pass\": \"%s\", \"median_ms\": %.5f, \"min_ms\": %.5f, "
        "\"bytes\": %.0f, \"flops\": %.0f, \"B\": %lld, \"T\": %lld}\n",
        op.c_str(), impl.c_str(), pass.c_str(), r.median_ms, r.min_ms, bytes,
        flops, static_cast<long long>(kB), static_cast<long long>(kT));
    std::fflush(json_);
  }

  const Row& last() const { return rows_.back(); }

  // GB/s and TFLOP/s count the fewest bytes and operations a call needs;
  // "of ceiling" compares them with the measured copy and matmul rates.
  void PrintTable(const Ceilings& c) const {
    std::printf("\nceilings: device copy %.0f GB/s, bf16 matmul %.0f TFLOP/s\n",
                c.copy_gbps, c.matmul_tflops);
    std::printf("%-26s %-20s %-8s %10s %10s %8s %8s %10s\n", "op", "impl",
                "pass", "median ms", "min ms", "GB/s", "TFLOP/s", "of ceiling");
    for (const Row& r : rows_) {
      double share = 0;
      if (r.bytes > 0 && c.copy_gbps > 0) share = r.GBps() / c.copy_gbps;
      if (r.flops > 0 && c.matmul_tflops > 0) {
        share = r.TFlops() / c.matmul_tflops;
      }
      std::printf("%-26s %-20s %-8s %10.4f %10.4f %8.0f %8.0f %9.0f%%\n",
                  r.op.c_str(), r.impl.c_str(), r.pass.c_str(), r.median_ms,
                  r.min_ms, r.bytes > 0 ? r.GBps() : 0.0,
                  r.flops > 0 ? r.TFlops() : 0.0, 100 * share);
    }
  }

 private:
  std::vector<Row> rows_;
  FILE* json_;
};

std::vector<at::Tensor> Copies(int sets,
                               const std::function<at::Tensor()>& make) {
  std::vector<at::Tensor> copies;
  for (int i = 0; i < sets; ++i) copies.push_back(make());
  return copies;
}

at::Tensor Randn(at::IntArrayRef sizes, const at::TensorOptions& options,
                 double scale = 1.0) {
  return (at::randn(sizes, kF32) * scale).to(options.dtype());
}

Ceilings MeasureCeilings(Bench& bench) {
  Ceilings c;
  const int64_t n = int64_t(1) << 29;  // 1 GiB of bf16, read and written
  const at::Tensor src = Randn({n}, kBf16), dst = at::empty({n}, kBf16);
  bench.Time("ceiling copy 1 GiB", "at::copy_", "-", 2.0 * n * 2, 0, 1,
             [&](int) { dst.copy_(src); });
  c.copy_gbps = bench.last().GBps();
  const int64_t m = 8192;  // random data: zeros run faster
  const at::Tensor a = Randn({m, m}, kBf16), b = Randn({m, m}, kBf16);
  bench.Time("ceiling matmul 8192^3", "at::matmul", "-", 0, 2.0 * m * m * m, 1,
             [&](int) { at::matmul(a, b); });
  c.matmul_tflops = bench.last().TFlops();
  return c;
}

void BenchRmsNorm(Bench& bench) {
  const double bytes = 2.0 * kN * kC * 2;
  const int sets = Bench::Sets(bytes);
  const auto x = Copies(sets, [] {
    return Randn({kN, kC}, kBf16).requires_grad_();
  });
  const auto dy = Copies(sets, [] { return Randn({kN, kC}, kBf16); });
  const at::Tensor w = (at::randn({kC}, kF32) * 0.1 + 1.0).requires_grad_();
  bench.Time("rms_norm [N, C]", "tinylm", "fwd", bytes, 0, sets,
             [&](int i) { ops::RmsNorm(x[i], w, 1e-5); });
  bench.Time("rms_norm [N, C]", "at::rms_norm", "fwd", bytes, 0, sets,
             [&](int i) { at::rms_norm(x[i], {kC}, w, 1e-5); });
  bench.Time("rms_norm [N, C]", "tinylm", "fwd+bwd", 2.5 * bytes, 0, sets,
             [&](int i) {
               torch::autograd::grad({ops::RmsNorm(x[i], w, 1e-5)}, {x[i], w},
                                     {dy[i]});
             });
  bench.Time("rms_norm [N, C]", "at::rms_norm", "fwd+bwd", 2.5 * bytes, 0, sets,
             [&](int i) {
               torch::autograd::grad({at::rms_norm(x[i], {kC}, w, 1e-5)},
                                     {x[i], w}, {dy[i]});
             });
}

void BenchQkvPost(Bench& bench) {
  const int64_t W = 3 * kC;
  const double bytes = 2.0 * kN * W * 2;
  const int sets = Bench::Sets(bytes);
  const auto proj = Copies(sets, [&] {
    return Randn({kB, kT, W}, kBf16).requires_grad_();
  });
  const at::Tensor bias = (at::randn({W}, kF32) * 0.1).requires_grad_();
  const RopeTable table = MakeRopeTable(kT, kC, 10000.0);
  const at::Tensor cos = table.cos.to(at::kCUDA), sin = table.sin.to(at::kCUDA);
  const at::Tensor cos_rows = cos.view({1, 1, kT, kC});
  const at::Tensor signed_sin = SignedSin(sin).view({1, 1, kT, kC});
  const auto dq = Copies(sets, [] { return Randn({kB, 1, kT, kC}, kBf16); });
  const ops::QkvPostConfig config{1, 1, kC, true};
  // The model's Project (models/attention.cc) for qkv_bias + qkv_gelu.
  auto reference = [&](int i) {
    const at::Tensor a = at::gelu(proj[i] + bias.to(at::kBFloat16));
    const at::Tensor qk =
        ApplyRope(a.narrow(-1, 0, 2 * kC).view({kB, kT, 2, kC}).transpose(1, 2),
                  cos_rows, signed_sin);
    return std::vector<at::Tensor>{
        qk.narrow(1, 0, 1), qk.narrow(1, 1, 1),
        a.narrow(-1, 2 * kC, kC).view({kB, kT, 1, kC}).transpose(1, 2)};
  };
  auto ours = [&](int i) {
    return ops::QkvPost(proj[i], bias, cos, sin, {}, config);
  };
  bench.Time("qkv bias+gelu+rope", "tinylm", "fwd", bytes, 0, sets,
             [&](int i) { ours(i); });
  bench.Time("qkv bias+gelu+rope", "libtorch (model)", "fwd", bytes, 0, sets,
             [&](int i) { reference(i); });
  bench.Time(
      "qkv bias+gelu+rope", "tinylm", "fwd+bwd", 2.5 * bytes, 0, sets,
      [&](int i) {
        torch::autograd::grad(ours(i), {proj[i], bias}, {dq[i], dq[i], dq[i]});
      });
  bench.Time("qkv bias+gelu+rope", "libtorch (model)", "fwd+bwd", 2.5 * bytes,
             0, sets, [&](int i) {
               torch::autograd::grad(reference(i), {proj[i], bias},
                                     {dq[i], dq[i], dq[i]});
             });
}

void BenchSoftmax(Bench& bench) {
  const double bytes = 2.0 * kN * kT * 2;
  const int sets = Bench::Sets(bytes);
  const double scale = 1.0 / std::sqrt(double(kC));
  const auto s = Copies(sets, [] {
    return Randn({kB, 1, kT, kT}, kBf16, 27.7);
  });
  const auto dp = Copies(sets, [] { return Randn({kB, 1, kT, kT}, kBf16); });
  const at::Tensor masked =
      at::ones({kT, kT}, kBf16.dtype(at::kBool)).tril().logical_not();
  at::Tensor p = at::empty_like(s[0]), ds = at::empty_like(s[0]);
  at::Tensor none;
  bench.Time("causal softmax [B,1,T,T]", "tinylm", "fwd", bytes, 0, sets,
             [&](int i) { ops::CausalSoftmaxForwardOut(s[i], {}, scale, p); });
  bench.Time(
      "causal softmax [B,1,T,T]", "tinylm", "bwd", 1.5 * bytes, 0, sets,
      [&](int i) { ops::CausalSoftmaxBackwardOut(p, dp[i], scale, ds, none); });
  bench.Time("causal softmax [B,1,T,T]", "libtorch", "fwd", bytes, 0, sets,
             [&](int i) {
               at::softmax(
                   (s[i].to(at::kFloat) * scale).masked_fill(masked, -INFINITY),
                   -1)
                   .to(at::kBFloat16);
             });
}

void BenchSwiGlu(Bench& bench) {
  const double bytes = 3.0 * kN * kI * 2;
  const int sets = Bench::Sets(bytes);
  const auto a = Copies(sets, [] {
    return Randn({kN, kI}, kBf16).requires_grad_();
  });
  const auto b = Copies(sets, [] {
    return Randn({kN, kI}, kBf16).requires_grad_();
  });
  const auto dh = Copies(sets, [] { return Randn({kN, kI}, kBf16); });
  bench.Time("swiglu [N, I]", "tinylm", "fwd", bytes, 0, sets,
             [&](int i) { ops::SwiGlu(a[i], b[i]); });
  bench.Time("swiglu [N, I]", "libtorch", "fwd", bytes, 0, sets,
             [&](int i) { at::silu(a[i]) * b[i]; });
  bench.Time(
      "swiglu [N, I]", "tinylm", "fwd+bwd", 8.0 / 3 * bytes, 0, sets,
      [&](int i) {
        torch::autograd::grad({ops::SwiGlu(a[i], b[i])}, {a[i], b[i]}, {dh[i]});
      });
  bench.Time(
      "swiglu [N, I]", "libtorch", "fwd+bwd", 8.0 / 3 * bytes, 0, sets,
      [&](int i) {
        torch::autograd::grad({at::silu(a[i]) * b[i]}, {a[i], b[i]}, {dh[i]});
      });
}

void BenchCrossEntropy(Bench& bench) {
  const double bytes = 1.0 * kN * kV * 2;
  const int sets = Bench::Sets(bytes);
  const auto logits = Copies(sets, [] {
    return Randn({kN, kV}, kBf16, 2.0).requires_grad_();
  });
  const at::Tensor targets = at::randint(kV, {kN}, kF32.dtype(at::kLong));
  bench.Time("cross_entropy [N, V]", "tinylm", "fwd", bytes, 0, sets,
             [&](int i) { ops::CrossEntropy(logits[i], targets); });
  bench.Time("cross_entropy [N, V]", "libtorch (float32)", "fwd", bytes, 0,
             sets, [&](int i) {
               at::cross_entropy_loss(logits[i].to(at::kFloat), targets);
             });
  bench.Time("cross_entropy [N, V]", "tinylm", "fwd+bwd", 3 * bytes, 0, sets,
             [&](int i) {
               torch::autograd::grad({ops::CrossEntropy(logits[i], targets)},
                                     {logits[i]});
             });
  bench.Time("cross_entropy [N, V]", "libtorch (float32)", "fwd+bwd", 3 * bytes,
             0, sets, [&](int i) {
               torch::autograd::grad(
                   {at::cross_entropy_loss(logits[i].to(at::kFloat), targets)},
                   {logits[i]});
             });
}

// Clip + AdamW over the article model's flat buffers: ours (norm, then one
// update reading lr, step and the coefficient on the device) against
// FlatParameters::ClipGradNorm + torch::optim::AdamW.
void BenchOptimizer(Bench& bench) {
  const double bytes = 4.0 * (kDecayed + kUndecayed) * (4 + 3);
  std::vector<at::Tensor> params = {Randn({kDecayed}, kF32, 0.02),
                                    Randn({kUndecayed}, kF32, 0.02)};
  std::vector<at::Tensor> grads = {Randn({kDecayed}, kF32),
                                   Randn({kUndecayed}, kF32)};
  std::vector<ops::AdamWBuffers> buffers;
  for (int i = 0; i < 2; ++i) {
    buffers.push_back({params[i], grads[i], at::zeros_like(params[i]),
                       at::zeros_like(params[i]), i == 0 ? 0.1 : 0.0,
                       /*param_bf16=*/at::Tensor()});
  }
  ops::AdamWScalars scalars{at::full({}, 1e-3, kF32.dtype(at::kDouble)),
                            at::zeros({}, kF32.dtype(at::kLong)), at::Tensor()};
  bench.Time("clip + adamw (article)", "tinylm", "step", bytes, 0, 1, [&](int) {
    scalars.clip_coef = ops::GradNorm(grads, 1.0).clip_coef;
    ops::AdamWStep(buffers, {0.9, 0.95, 1e-8}, scalars);
  });
  std::vector<at::Tensor> leaves;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (int i = 0; i < 2; ++i) {
    leaves.push_back(params[i].clone().requires_grad_());
    leaves[i].mutable_grad() = grads[i].clone();
    groups.emplace_back(std::vector<at::Tensor>{leaves[i]},
                        std::make_unique<torch::optim::AdamWOptions>(
                            torch::optim::AdamWOptions(1e-3)
                                .betas({0.9, 0.95})
                                .weight_decay(i == 0 ? 0.1 : 0.0)));
  }
  torch::optim::AdamW adamw(groups, torch::optim::AdamWOptions(1e-3));
  bench.Time("clip + adamw (article)", "libtorch", "step", bytes, 0, 1,
             [&](int) {
               const at::Tensor norm = at::sqrt(leaves[0].grad().pow(2).sum() +
                                                leaves[1].grad().pow(2).sum());
               const at::Tensor scale = at::clamp_max(1.0 / (norm + 1e-6), 1.0);
               leaves[0].mutable_grad().mul_(scale);
               leaves[1].mutable_grad().mul_(scale);
               adamw.step();
             });
}

// One layer's attention, forward and forward + backward.
void BenchAttention(Bench& bench) {
  const int sets = 2;
  auto qkv = [] { return Randn({kB, 1, kT, kC}, kBf16).requires_grad_(); };
  const auto q = Copies(sets, qkv), k = Copies(sets, qkv),
             v = Copies(sets, qkv);
  const auto dy = Copies(sets, [] { return Randn({kB, 1, kT, kC}, kBf16); });
  const auto g = Copies(sets, [] {
    return Randn({kB, kT, kT}, kBf16).requires_grad_();
  });
  const at::Tensor masked =
      at::ones({kT, kT}, kBf16.dtype(at::kBool)).tril().logical_not();
  const double scale = 1.0 / std::sqrt(double(kC));
  // 2 products forward, 4 backward; the causal half is not skipped.
  const double fwd_flops = 2 * 2.0 * kB * kT * kT * kC;

  struct Impl {
    std::string name;
    bool with_g;  // the score_fcn term, which needs its gradient too
    std::function<at::Tensor(int)> attend;
  };
  const std::vector<Impl> impls = {
      {"tinylm", false,
       [&](int i) { return ops::CausalAttention(q[i], k[i], v[i], {}); }},
      {"sdpa causal", false,
       [&](int i) {
         return at::scaled_dot_product_attention(q[i], k[i], v[i], {}, 0.0,
                                                 true);
       }},
      {"libtorch matmul", false,
       [&](int i) {
         const at::Tensor s = (at::matmul(q[i], k[i].transpose(-2, -1)) * scale)
                                  .to(at::kFloat)
                                  .masked_fill(masked, -INFINITY);
         return at::matmul(at::softmax(s, -1).to(at::kBFloat16), v[i]);
       }},
      {"tinylm + g", true,
       [&](int i) { return ops::CausalAttention(q[i], k[i], v[i], g[i]); }},
      {"sdpa + bias g", true,
       [&](int i) {
         const at::Tensor bias =
             g[i].unsqueeze(1).masked_fill(masked, -INFINITY);
         return at::scaled_dot_product_attention(q[i], k[i], v[i], bias);
       }},
  };
  for (const Impl& impl : impls) {
    bench.Time("attention layer", impl.name, "fwd", 0, fwd_flops, sets,
               [&](int i) { impl.attend(i); });
    bench.Time("attention layer", impl.name, "fwd+bwd", 0, 3 * fwd_flops, sets,
               [&](int i) {
                 std::vector<at::Tensor> inputs = {q[i], k[i], v[i]};
                 if (impl.with_g) inputs.push_back(g[i]);
                 torch::autograd::grad({impl.attend(i)}, inputs, {dy[i]});
               });
  }
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.jsonl\n", argv[0]);
    return 2;
  }
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "tinylm-kernels-bench: no CUDA device\n");
    return 1;
  }
  FILE* json = std::fopen(argv[1], "w");
  if (json == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  tinylm::Bench bench(json);
  int failed = 0;
  tinylm::Ceilings ceilings;
  // One group failing (e.g. a LibTorch path this build lacks) leaves the
  // others' numbers standing.
  auto run = [&](const char* group, const std::function<void()>& f) {
    try {
      f();
    } catch (const c10::Error& e) {
      std::fprintf(stderr, "tinylm-kernels-bench: %s failed: %s\n", group,
                   e.what_without_backtrace());
      ++failed;
    }
  };
  run("ceilings", [&] { ceilings = tinylm::MeasureCeilings(bench); });
  run("rms_norm", [&] { tinylm::BenchRmsNorm(bench); });
  run("qkv_post", [&] { tinylm::BenchQkvPost(bench); });
  run("softmax", [&] { tinylm::BenchSoftmax(bench); });
  run("swiglu", [&] { tinylm::BenchSwiGlu(bench); });
  run("cross_entropy", [&] { tinylm::BenchCrossEntropy(bench); });
  run("optimizer", [&] { tinylm::BenchOptimizer(bench); });
  run("attention", [&] { tinylm::BenchAttention(bench); });
  bench.PrintTable(ceilings);
  std::fclose(json);
  return failed == 0 ? 0 : 1;
}
