// The whole fused decode step (FusedDecoder) against Transformer::Forward
// with the KV cache, for the four attention variants, grouped-query and odd
// shapes and the two real model sizes. Each case prefills every row's
// prompt with the reference, copies the cache, then decodes a few greedy
// steps with both; a float32 copy of the same weights is the ground truth.
// Also: batch invariance (a row alone, in M=7 and in M=64 gives the same
// logits bits), PDL on and off, CUDA-graph replay with new inputs, and the
// attention maps.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/GradMode.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/decode/fused_decoder.h"
#include "models/config.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "tests/decode_test_util.h"

namespace tinylm::decode_test {
namespace {

struct Shape {
  const char* name;
  int64_t vocab, n_embd, n_layer, n_head, groups, intermediate, block_size;
  int64_t rows;
};

// Odd shapes first (tile edges, GQA, hs = 8 and 16), then the real ones.
const std::vector<Shape>& Shapes() {
  static const std::vector<Shape> shapes = {
      {"gqa-4/2-hs16", 1002, 64, 3, 4, 2, 40, 40, 17},
      {"gqa-4/1-hs8", 250, 32, 2, 4, 1, 24, 48, 100},
      {"gqa-6/3-hs16", 998, 96, 2, 6, 3, 56, 24, 15},
      {"shipped", 8000, 128, 10, 1, 1, 304, 256, 8},
      {"article", 8000, 768, 10, 1, 1, 1536, 1024, 4},
  };
  return shapes;
}

ModelConfig MakeConfig(const Shape& s, const std::string& variant) {
  ModelConfig c;
  c.vocab_size = s.vocab;
  c.n_embd = s.n_embd;
  c.n_layer = s.n_layer;
  c.n_head = s.n_head;
  c.n_query_groups = s.groups;
  c.intermediate_size = s.intermediate;
  c.block_size = s.block_size;
  EXPECT_TRUE(ApplyVariant(variant, c).ok());
  return c;
}

// Fresh random weights that make every part matter: unit-scale products,
// norms and biases away from 1 and 0.
void Randomize(Transformer& model) {
  c10::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    if (name.find("norm") != std::string::npos || name == "ln_f.weight") {
      p.normal_(1.0, 0.2);
    } else if (name.size() > 5 && name.substr(name.size() - 5) == ".bias") {
      p.normal_(0.0, 0.1);
    } else if (name == "wte.weight") {
      p.normal_(0.0, 1.0);
    } else {
      p.normal_(0.0, 1.0 / std::sqrt(double(p.size(1))));
    }
  }
}

// The bf16 model under test and a float32 copy of the same values.
struct Models {
  Transformer bf16{nullptr}, fp32{nullptr};
};
Models MakeModels(const ModelConfig& config) {
  Models m;
  m.bf16 = Transformer(config);
  Randomize(m.bf16);
  m.bf16->to(at::kCUDA, at::kBFloat16);
  m.fp32 = Transformer(config);
  {
    c10::NoGradGuard no_grad;
    auto src = m.bf16->named_parameters();
    for (auto& item : m.fp32->named_parameters()) {
      item.value().copy_(src[item.key()]);
    }
  }
  m.fp32->to(at::kCUDA, at::kFloat);
  return m;
}

at::Tensor Int32(const std::vector<int64_t>& v) {
  return at::tensor(v, at::kLong).to(at::kInt).to(at::kCUDA);
}

// Reference logits [M, V] for one token per row at `positions`.
at::Tensor ReferenceStep(Transformer& model, KvCache& cache,
                         const std::vector<int64_t>& tokens,
                         const std::vector<int64_t>& positions,
                         const std::vector<int64_t>& slots) {
  const int64_t M = tokens.size();
  ForwardInput in;
  in.tokens = at::tensor(tokens, at::kLong).to(at::kCUDA).view({M, 1});
  in.positions = at::tensor(positions, at::kLong).to(at::kCUDA).view({M, 1});
  in.cache = &cache;
  in.slots = slots;
  in.kv_length = *std::max_element(positions.begin(), positions.end()) + 1;
  return model->Forward(in).logits.select(1, 0).to(at::kFloat);
}

at::Tensor FusedStep(FusedDecoder& decoder, int64_t vocab,
                     const std::vector<int64_t>& tokens,
                     const std::vector<int64_t>& positions,
                     const std::vector<int64_t>& slots, bool pdl = true) {
  at::Tensor logits = at::full({int64_t(tokens.size()), vocab}, NAN,
                               at::TensorOptions().device(at::kCUDA));
  decoder.Decode(Int32(tokens), Int32(positions), Int32(slots), logits, nullptr,
                 pdl);
  return logits;
}

void CopyCache(KvCache& from, KvCache& to, int64_t layers) {
  for (int64_t i = 0; i < layers; ++i) {
    to.keys(i).copy_(from.keys(i));
    to.values(i).copy_(from.values(i));
  }
}

// Tests over (index into Shapes(), variant).
class ShapeAndVariant
    : public ::testing::TestWithParam<std::tuple<size_t, std::string>> {
 protected:
  const Shape& shape() const { return Shapes()[std::get<0>(GetParam())]; }
  std::string variant() const { return std::get<1>(GetParam()); }
  std::string name() const {
    return std::string(shape().name) + " " + variant();
  }
};

// "gqa-4/2-hs16" + "base" -> "gqa_4_2_hs16_base".
std::string ShapeAndVariantName(
    const ::testing::TestParamInfo<ShapeAndVariant::ParamType>& info) {
  std::string n = std::string(Shapes()[std::get<0>(info.param)].name) + "_" +
                  std::get<1>(info.param);
  std::replace(n.begin(), n.end(), '-', '_');
  std::replace(n.begin(), n.end(), '/', '_');
  return n;
}

class StepVsForward : public ShapeAndVariant {};

TEST_P(StepVsForward, LogitsAndGreedyTokens) {
  TINYLM_SKIP_WITHOUT_GPU();
  c10::NoGradGuard no_grad;
  const Shape& shape = this->shape();
  const std::string variant = this->variant();
  const std::string name = this->name();
  at::manual_seed(17);
  const ModelConfig config = MakeConfig(shape, variant);
  Models models = MakeModels(config);
  const int64_t M = shape.rows, L = shape.block_size, steps = 4;
  KvCache ref_cache(config, M + 1, L, at::kCUDA, at::kBFloat16);
  KvCache fp32_cache(config, M + 1, L, at::kCUDA, at::kFloat);
  KvCache our_cache(config, M + 1, L, at::kCUDA, at::kBFloat16);
  FusedDecoder decoder(models.bf16, our_cache, M);

  // 1. Prompts of lengths 1 .. L - steps - 1, rows in slots M .. 1.
  std::vector<int64_t> tokens(M), positions(M), slots(M);
  for (int64_t b = 0; b < M; ++b) {
    const int64_t length =
        b == 1 ? L - steps - 1 : 1 + (b * 37) % (L - steps - 1);
    slots[b] = M - b;
    positions[b] = length;
    const at::Tensor prompt = at::randint(shape.vocab, {1, length},
                                          at::TensorOptions().dtype(at::kLong))
                                  .to(at::kCUDA);
    ForwardInput in;
    in.tokens = prompt;
    in.cache = &ref_cache;
    in.slots = {slots[b]};
    in.kv_length = length;
    const at::Tensor last = models.bf16->Forward(in).logits[0][length - 1];
    in.cache = &fp32_cache;
    models.fp32->Forward(in);
    tokens[b] = last.argmax().item<int64_t>();
  }
  CopyCache(ref_cache, our_cache, config.n_layer);

  // 2. Greedy steps, every implementation fed the reference's tokens.
  for (int64_t step = 0; step < steps; ++step) {
    const at::Tensor ref =
        ReferenceStep(models.bf16, ref_cache, tokens, positions, slots);
    const at::Tensor truth =
        ReferenceStep(models.fp32, fp32_cache, tokens, positions, slots);
    const at::Tensor ours =
        FusedStep(decoder, shape.vocab, tokens, positions, slots);
    const double e_ref = RelativeError(ref, truth);
    const std::string what = name + " step " + std::to_string(step);
    // The fused step must be about as close to float32 as LibTorch's bf16
    // step is, and close to that step.
    ExpectAtMost(what + " |fused-fp32|/|fp32|", RelativeError(ours, truth),
                 2.0 * e_ref + 2e-3);
    std::printf("INFO  %s |bf16 ref-fp32|/|fp32| %.3e\n", what.c_str(), e_ref);
    ExpectAtMost(what + " |fused-bf16 ref|/|ref|", RelativeError(ours, ref),
                 5e-2);
    // Greedy: where the fused argmax differs from the reference's, the two
    // tokens must be a near-tie in float32 (2% of the largest logit).
    const at::Tensor ours_id = ours.argmax(1), ref_id = ref.argmax(1);
    const at::Tensor gap = (truth.gather(1, ref_id.unsqueeze(1)) -
                            truth.gather(1, ours_id.unsqueeze(1)))
                               .abs()
                               .squeeze(1);
    const at::Tensor bound = 0.02 * truth.abs().amax(1);
    const int64_t differ = (ours_id != ref_id).sum().item<int64_t>();
    const int64_t far =
        ((ours_id != ref_id) & (gap > bound)).sum().item<int64_t>();
    std::printf("CHECK %-60s %lld/%lld argmax equal, %lld not near-ties %s\n",
                (what + " greedy").c_str(), (long long)(M - differ),
                (long long)M, (long long)far, far == 0 ? "ok" : "FAIL");
    EXPECT_EQ(far, 0) << what;
    const at::Tensor next = ref_id.cpu();  // one copy for both ends
    tokens.assign(next.data_ptr<int64_t>(), next.data_ptr<int64_t>() + M);
    for (int64_t& p : positions) ++p;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllVariants, StepVsForward,
    ::testing::Combine(::testing::Range<size_t>(0, 5),
                       ::testing::Values("base", "qkv_gelu", "separate_qkv",
                                         "score_fcn")),
    ShapeAndVariantName);

// A row's logits alone, in M = 7 and in M = 64 are bit-identical; so are
// PDL on and off, and a CUDA graph replayed with new inputs.
class BatchInvariance : public ShapeAndVariant {};

TEST_P(BatchInvariance, SameBitsWhateverTheBatch) {
  TINYLM_SKIP_WITHOUT_GPU();
  c10::NoGradGuard no_grad;
  const Shape& shape = this->shape();
  const std::string variant = this->variant();
  const std::string name = this->name();
  at::manual_seed(23);
  const ModelConfig config = MakeConfig(shape, variant);
  Transformer model(config);
  Randomize(model);
  model->to(at::kCUDA, at::kBFloat16);
  const int64_t S = 65, L = shape.block_size, V = shape.vocab;
  KvCache cache(config, S, L, at::kCUDA, at::kBFloat16);
  for (int64_t i = 0; i < config.n_layer; ++i) {  // random history everywhere
    cache.keys(i).normal_(0.0, 1.0);
    cache.values(i).normal_(0.0, 1.0);
  }
  FusedDecoder decoder(model, cache, 64);

  const int64_t row_token = 123 % V, row_pos = L / 2 + 3, row_slot = 10;
  auto batch = [&](int64_t M, int64_t at_index) {
    std::vector<int64_t> t(M), p(M), s(M);
    int64_t next_slot = 0;
    for (int64_t b = 0; b < M; ++b) {
      if (next_slot == row_slot) ++next_slot;
      t[b] = (b * 977 + 5) % V;
      p[b] = (b * 131 + 7) % L;
      s[b] = next_slot++;
    }
    t[at_index] = row_token;
    p[at_index] = row_pos;
    s[at_index] = row_slot;
    return std::make_tuple(t, p, s);
  };
  auto [t1, p1, s1] = batch(1, 0);
  const at::Tensor alone = FusedStep(decoder, V, t1, p1, s1);
  auto [t7, p7, s7] = batch(7, 3);
  const at::Tensor in7 = FusedStep(decoder, V, t7, p7, s7);
  auto [t64, p64, s64] = batch(64, 50);
  const at::Tensor in64 = FusedStep(decoder, V, t64, p64, s64);
  const at::Tensor in64_no_pdl =
      FusedStep(decoder, V, t64, p64, s64, /*pdl=*/false);
  EXPECT_TRUE(at::equal(alone[0], in7[3])) << name << ": M=1 vs M=7";
  EXPECT_TRUE(at::equal(alone[0], in64[50])) << name << ": M=1 vs M=64";
  EXPECT_TRUE(at::equal(in64, in64_no_pdl)) << name << ": PDL on vs off";
  EXPECT_TRUE(at::isfinite(in64).all().item<bool>()) << name;

  // 3. A captured step replayed with new inputs equals the eager step.
  const at::Tensor tokens = Int32(t64), positions = Int32(p64),
                   slots = Int32(s64);
  at::Tensor logits = at::empty({64, V}, at::TensorOptions().device(at::kCUDA));
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    decoder.Decode(tokens, positions, slots, logits);
    stream.synchronize();
    graph.capture_begin();
    decoder.Decode(tokens, positions, slots, logits);
    graph.capture_end();
  }
  auto [t7b, p7b, s7b] = batch(64, 7);
  tokens.copy_(Int32(t7b));
  positions.copy_(Int32(p7b));
  slots.copy_(Int32(s7b));
  graph.replay();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const at::Tensor eager = FusedStep(decoder, V, t7b, p7b, s7b);
  EXPECT_TRUE(at::equal(logits, eager)) << name << ": graph replay";
  EXPECT_TRUE(at::equal(logits[7], alone[0])) << name << ": graph replay row";
  std::printf("CHECK %-60s bit-identical (M=1/7/64, PDL, graph) %s\n",
              (name + " batch invariance").c_str(),
              at::equal(alone[0], in64[50]) && at::equal(logits, eager)
                  ? "ok"
                  : "FAIL");
}

INSTANTIATE_TEST_SUITE_P(RealSizes, BatchInvariance,
                         ::testing::Combine(::testing::Values<size_t>(0, 3, 4),
                                            ::testing::Values("base",
                                                              "score_fcn")),
                         ShapeAndVariantName);

// Attention maps: the weights the step used, against Forward's maps.
TEST(FusedDecoderMaps, MatchForwardMaps) {
  TINYLM_SKIP_WITHOUT_GPU();
  c10::NoGradGuard no_grad;
  at::manual_seed(29);
  const Shape& shape = Shapes()[0];
  const ModelConfig config = MakeConfig(shape, "score_fcn");
  Transformer model(config);
  Randomize(model);
  model->to(at::kCUDA, at::kBFloat16);
  const int64_t M = 5, L = shape.block_size;
  KvCache ref_cache(config, M, L, at::kCUDA, at::kBFloat16);
  KvCache our_cache(config, M, L, at::kCUDA, at::kBFloat16);
  for (int64_t i = 0; i < config.n_layer; ++i) {
    ref_cache.keys(i).normal_(0.0, 1.0);
    ref_cache.values(i).normal_(0.0, 1.0);
  }
  CopyCache(ref_cache, our_cache, config.n_layer);
  FusedDecoder decoder(model, our_cache, M);
  const std::vector<int64_t> tokens = {1, 2, 3, 4, 5},
                             positions = {0, 9, 17, 38, 25},
                             slots = {4, 0, 3, 1, 2};
  ForwardInput in;
  in.tokens = at::tensor(tokens, at::kLong).to(at::kCUDA).view({M, 1});
  in.positions = at::tensor(positions, at::kLong).to(at::kCUDA).view({M, 1});
  in.cache = &ref_cache;
  in.slots = slots;
  in.kv_length = L;
  in.return_attention = true;
  const ForwardOutput ref = model->Forward(in);

  std::vector<at::Tensor> maps;
  for (int64_t i = 0; i < config.n_layer; ++i) {
    maps.push_back(at::full({M, config.n_head, L}, NAN,
                            at::TensorOptions().device(at::kCUDA)));
  }
  at::Tensor logits =
      at::empty({M, shape.vocab}, at::TensorOptions().device(at::kCUDA));
  decoder.Decode(Int32(tokens), Int32(positions), Int32(slots), logits, &maps);
  for (int64_t i = 0; i < config.n_layer; ++i) {
    const at::Tensor expect = ref.attention[i].squeeze(2);  // [M, H, L]
    // Forward's maps are bf16-rounded and come from its own rounding of q
    // and k (the kernel test checks maps against the same q and k to 1e-5);
    // sums to 1 and zeros past each position are exact here.
    ExpectAtMost("maps layer " + std::to_string(i) + " vs Forward",
                 RelativeError(maps[i], expect), 5e-2);
    ExpectAtMost("maps layer " + std::to_string(i) + " |row sum - 1|",
                 (maps[i].sum(-1) - 1).abs().max().item<double>(), 1e-5);
    const at::Tensor past =
        at::arange(L, at::TensorOptions().device(at::kCUDA)).view({1, 1, L}) >
        at::tensor(positions, at::kLong).to(at::kCUDA).view({M, 1, 1});
    EXPECT_EQ(maps[i]
                  .masked_select(past.expand_as(maps[i]))
                  .abs()
                  .max()
                  .item<float>(),
              0.0f)
        << "layer " << i << ": weight past a position";
  }
}

}  // namespace
}  // namespace tinylm::decode_test
