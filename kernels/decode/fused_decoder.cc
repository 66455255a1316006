#include "kernels/decode/fused_decoder.h"

#include <string>

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>
#include <cuda_runtime_api.h>

#include "kernels/decode/skinny_gemm.h"
#include "kernels/decode/weight_packing.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "models/rope.h"

namespace tinylm {
namespace {

void CheckCuda(cudaError_t status, const char* what) {
  TORCH_CHECK(status == cudaSuccess, "fused decode: ", what, ": ",
              cudaGetErrorString(status));
}

const decode::bf16* Bf16(const at::Tensor& t) {
  return reinterpret_cast<const decode::bf16*>(t.const_data_ptr());
}

decode::DecodeDims DimsOf(const ModelConfig& c, const KvCache& cache) {
  decode::DecodeDims d;
  d.n_embd = c.n_embd;
  d.n_layer = c.n_layer;
  d.n_head = c.n_head;
  d.n_query_groups = c.n_query_groups;
  d.head_size = c.head_size();
  d.intermediate = c.intermediate_size;
  d.vocab = c.vocab_size;
  d.block_size = c.block_size;
  d.norm_eps = static_cast<float>(c.norm_eps);
  d.qkv_activation = c.qkv_activation;
  d.score_fcn = c.score_fcn;
  d.num_slots = cache.num_slots();
  d.max_len = cache.max_len();
  return d;
}

void CheckIndexTensor(const at::Tensor& t, int64_t rows, c10::Device device,
                      const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kInt && t.dim() == 1 &&
                  t.size(0) == rows && t.is_contiguous() &&
                  t.device() == device,
              "fused decode: ", name, " must be [", rows,
              "] int32 contiguous on ", device.str());
}

}  // namespace

FusedDecoder::FusedDecoder(Transformer& model, KvCache& cache, int64_t max_rows)
    : max_rows_(max_rows) {
  const ModelConfig& config = model->config();
  const c10::Device device = model->parameters().front().device();
  TORCH_CHECK(device.is_cuda(), "fused decode needs a CUDA model");
  TORCH_CHECK(max_rows >= 1 && max_rows <= decode::kMaxGemmRows,
              "fused decode: max_rows ", max_rows, " outside 1..",
              decode::kMaxGemmRows);
  c10::cuda::CUDAGuard guard(device);
  const int64_t H = config.n_head, G = config.n_query_groups;
  const int64_t hs = config.head_size();

  // Every parameter as a bfloat16 copy on the device, by name (model.h).
  const auto params = model->named_parameters();
  auto keep = [&](const at::Tensor& t) {
    owned_.push_back(t.to(device, at::kBFloat16).contiguous());
    return Bf16(owned_.back());
  };
  auto param = [&](const std::string& name) {
    const at::Tensor* p = params.find(name);
    TORCH_CHECK(p != nullptr, "fused decode: no parameter ", name);
    return p->detach().to(at::kBFloat16);
  };

  weights_.wte = keep(param("wte.weight"));
  weights_.ln_f = keep(param("ln_f.weight"));
  weights_.lm_head = keep(param("lm_head.weight"));
  const RopeTable rope = MakeRopeTable(config.block_size, hs, config.rope_base);
  owned_.push_back(rope.cos.to(device).contiguous());
  weights_.rope_cos = owned_.back().const_data_ptr<float>();
  owned_.push_back(rope.sin.to(device).contiguous());
  weights_.rope_sin = owned_.back().const_data_ptr<float>();

  for (int64_t i = 0; i < config.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    decode::DecodeLayerWeights l;
    l.norm_1 = keep(param(p + "norm_1.weight"));
    l.norm_2 = keep(param(p + "norm_2.weight"));
    l.proj = keep(param(p + "attn.proj.weight"));
    l.mlp_proj = keep(param(p + "mlp.proj.weight"));
    l.fc = keep(decode::InterleaveRows(param(p + "mlp.fc_1.weight"),
                                       param(p + "mlp.fc_2.weight")));

    // q, k, v weights (and biases) of the fused or the separate linears.
    at::Tensor qw, kw, vw, qb, kb, vb;
    if (config.separate_qkv) {
      qw = param(p + "attn.q.weight");
      kw = param(p + "attn.k.weight");
      vw = param(p + "attn.v.weight");
      if (config.qkv_bias) {
        qb = param(p + "attn.q.bias");
        kb = param(p + "attn.k.bias");
        vb = param(p + "attn.v.bias");
      }
    } else {
      const at::Tensor w = param(p + "attn.qkv.weight");
      qw = w.narrow(0, 0, H * hs);
      kw = w.narrow(0, H * hs, G * hs);
      vw = w.narrow(0, (H + G) * hs, G * hs);
      if (config.qkv_bias) {
        const at::Tensor b = param(p + "attn.qkv.bias");
        qb = b.narrow(0, 0, H * hs);
        kb = b.narrow(0, H * hs, G * hs);
        vb = b.narrow(0, (H + G) * hs, G * hs);
      }
    }
    at::Tensor sw, sb;
    if (config.score_fcn) {
      sw = param(p + "attn.score.weight");
      sb = param(p + "attn.score.bias");
    }
    l.attention = keep(decode::PackAttentionInput(qw, kw, vw, sw, H, G, hs));
    if (config.qkv_bias || config.score_fcn) {
      // A zero bias where only one part has one: adding 0 is exact.
      auto or_zeros = [&](const at::Tensor& b, int64_t n) {
        return b.defined() ? b : at::zeros({n}, qw.options());
      };
      l.attention_bias = keep(
          decode::PackAttentionInput(or_zeros(qb, H * hs), or_zeros(kb, G * hs),
                                     or_zeros(vb, G * hs), sb, H, G, hs));
    }

    at::Tensor& keys = cache.keys(i);
    at::Tensor& values = cache.values(i);
    TORCH_CHECK(keys.scalar_type() == at::kBFloat16 &&
                    values.scalar_type() == at::kBFloat16 &&
                    keys.device() == device && keys.is_contiguous() &&
                    values.is_contiguous(),
                "fused decode: the KV cache must be contiguous bfloat16 on ",
                device.str());
    l.k_cache = reinterpret_cast<decode::bf16*>(keys.data_ptr());
    l.v_cache = reinterpret_cast<decode::bf16*>(values.data_ptr());
    weights_.layers.push_back(l);
  }

  step_ = std::make_unique<decode::DecodeStep>(DimsOf(config, cache),
                                               static_cast<int>(max_rows));
  workspace_ = at::empty({int64_t(step_->workspace_bytes())},
                         at::TensorOptions().dtype(at::kByte).device(device));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device.index());
  // The packing ran on this stream; steps may run on another (a capture).
  CheckCuda(cudaStreamSynchronize(stream), "packing the weights");

  const std::string problem = step_->Validate(weights_);
  TORCH_CHECK(problem.empty(), "fused decode: ", problem);
}

FusedDecoder::~FusedDecoder() = default;

void FusedDecoder::FeedFrom(const at::Tensor& feed, const at::Tensor& chosen) {
  const c10::Device device = workspace_.device();
  CheckIndexTensor(feed, max_rows_, device, "feed");
  TORCH_CHECK(chosen.scalar_type() == at::kInt && chosen.is_contiguous() &&
                  chosen.device() == device && chosen.numel() >= max_rows_,
              "fused decode: chosen must be int32 contiguous on ", device.str(),
              " with at least ", max_rows_, " entries");
  feed_ = feed;
  chosen_ = chosen;
}

void FusedDecoder::RecordTokensIn(const at::Tensor& history) {
  const c10::Device device = workspace_.device();
  TORCH_CHECK(history.scalar_type() == at::kInt && history.dim() == 2 &&
                  history.is_contiguous() && history.device() == device,
              "fused decode: history must be [slots, length] int32 "
              "contiguous on ",
              device.str());
  history_ = history;
}

void FusedDecoder::Decode(const at::Tensor& tokens, const at::Tensor& positions,
                          const at::Tensor& slots, at::Tensor& logits,
                          std::vector<at::Tensor>* maps, bool pdl) {
  Step(tokens, positions, slots, logits, maps, pdl, /*prompt=*/false);
}

void FusedDecoder::Prefill(const at::Tensor& tokens,
                           const at::Tensor& positions, const at::Tensor& slots,
                           at::Tensor& logits) {
  Step(tokens, positions, slots, logits, nullptr, /*pdl=*/true,
       /*prompt=*/true);
}

void FusedDecoder::Step(const at::Tensor& tokens, const at::Tensor& positions,
                        const at::Tensor& slots, at::Tensor& logits,
                        std::vector<at::Tensor>* maps, bool pdl, bool prompt) {
  const c10::Device device = workspace_.device();
  const decode::DecodeDims& d = step_->dims();
  const int64_t M = tokens.numel();
  TORCH_CHECK(M >= 1 && M <= max_rows_, "fused decode: ", M,
              " rows for at most ", max_rows_);
  CheckIndexTensor(tokens, M, device, "tokens");
  CheckIndexTensor(positions, M, device, "positions");
  CheckIndexTensor(slots, M, device, "slots");
  TORCH_CHECK(logits.scalar_type() == at::kFloat && logits.dim() == 2 &&
                  logits.size(0) == M && logits.size(1) == d.vocab &&
                  logits.is_contiguous() && logits.device() == device,
              "fused decode: logits must be [", M, ", ", d.vocab,
              "] float32 contiguous on ", device.str());

  decode::DecodeIo io;
  io.rows = static_cast<int>(M);
  io.tokens = tokens.const_data_ptr<int>();
  io.positions = positions.const_data_ptr<int>();
  io.slots = slots.const_data_ptr<int>();
  io.logits = logits.data_ptr<float>();
  io.prompt = prompt;
  if (feed_.defined()) {
    io.feed = feed_.const_data_ptr<int>();
    io.fed_tokens = chosen_.const_data_ptr<int>();
  }
  if (history_.defined()) {
    io.token_history = history_.data_ptr<int>();
    io.history_slots = static_cast<int>(history_.size(0));
    io.history_stride = static_cast<int>(history_.size(1));
  }
  std::vector<float*> map_pointers;
  if (maps != nullptr) {
    TORCH_CHECK(int64_t(maps->size()) == d.n_layer,
                "fused decode: one map per layer");
    for (at::Tensor& map : *maps) {
      TORCH_CHECK(map.scalar_type() == at::kFloat && map.dim() == 3 &&
                      map.size(0) == M && map.size(1) == d.n_head &&
                      map.size(2) == (*maps)[0].size(2) &&
                      map.size(2) >= d.max_len && map.is_contiguous() &&
                      map.device() == device,
                  "fused decode: maps must be [", M, ", ", d.n_head,
                  ", L >= ", d.max_len, "] float32 contiguous, one L");
      map_pointers.push_back(map.data_ptr<float>());
    }
    io.maps = map_pointers.data();
    io.map_stride = (*maps)[0].size(2);
  }
  c10::cuda::CUDAGuard guard(device);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device.index());
  CheckCuda(step_->Enqueue(weights_, io, workspace_.data_ptr(), stream, pdl),
            "step");
}

}  // namespace tinylm
