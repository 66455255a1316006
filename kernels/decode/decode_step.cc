#include "kernels/decode/decode_step.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/decode/decode_attention.h"
#include "kernels/decode/embedding.h"
#include "kernels/decode/skinny_gemm.h"

namespace tinylm::decode {
namespace {

size_t RoundUp(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

// Activations of up to max_rows rows, each part 256-byte aligned.
struct DecodeStep::Buffers {
  bf16* x;          // [max_rows, C] the residual stream, updated in place
  bf16* q;          // [max_rows, H·hs] rotated queries
  bf16* score;      // [max_rows, H·block_size] score_fcn term
  bf16* y;          // [max_rows, H·hs] attention output
  bf16* hidden;     // [max_rows, I] SwiGLU output
  size_t bytes;     // all of them
};

DecodeStep::DecodeStep(const DecodeDims& dims, int max_rows)
    : dims_(dims), max_rows_(max_rows) {}

DecodeStep::Buffers DecodeStep::Carve(void* workspace) const {
  const DecodeDims& d = dims_;
  const size_t rows = max_rows_;
  // Integer addresses: workspace_bytes() carves a null workspace.
  const uintptr_t base = reinterpret_cast<uintptr_t>(workspace);
  size_t offset = 0;
  auto take = [&](size_t elements) {
    bf16* part = reinterpret_cast<bf16*>(base + offset);
    offset += RoundUp(elements * sizeof(bf16));
    return part;
  };
  Buffers b;
  b.x = take(rows * d.n_embd);
  b.q = take(rows * d.n_head * d.head_size);
  b.score = take(d.score_fcn ? rows * d.n_head * d.block_size : 0);
  b.y = take(rows * d.n_head * d.head_size);
  b.hidden = take(rows * d.intermediate);
  b.bytes = offset;
  return b;
}

size_t DecodeStep::workspace_bytes() const { return Carve(nullptr).bytes; }

std::string DecodeStep::Validate(const DecodeWeights& w) const {
  const DecodeDims& d = dims_;
  if (d.n_embd % 8 != 0 || d.head_size % 8 != 0 || d.intermediate % 8 != 0) {
    return "n_embd, head_size and intermediate must be multiples of 8";
  }
  if (d.n_head < 1 || d.n_query_groups < 1 ||
      d.n_head % d.n_query_groups != 0 || d.n_layer < 1 || d.vocab < 1) {
    return "bad head, group, layer or vocabulary count";
  }
  if (d.vocab % 2 != 0) return "the vocabulary size must be even";
  if (d.num_slots < 1 || d.max_len < 1 || d.max_len > d.block_size) {
    return "the cache needs slots and at most block_size positions";
  }
  if (d.max_len > kMaxAttentionLength) {
    return "the attention kernel takes at most " +
           std::to_string(kMaxAttentionLength) + " positions";
  }
  // The products' inner dimensions: n_embd (q/k/v, MLP input, LM head),
  // H·hs (attention output) and the SwiGLU width (MLP output).
  if (std::max({d.n_embd, d.n_head * d.head_size, d.intermediate}) >
      kMaxGemmK) {
    return "n_embd, n_head x head_size and intermediate must be at most " +
           std::to_string(kMaxGemmK);
  }
  if (d.head_size > kMaxHeadSize) {
    return "head_size must be at most " + std::to_string(kMaxHeadSize);
  }
  if (max_rows_ < 1 || max_rows_ > kMaxGemmRows) {
    return "max_rows must be in 1..128";
  }
  if (int(w.layers.size()) != d.n_layer || w.wte == nullptr ||
      w.ln_f == nullptr || w.lm_head == nullptr || w.rope_cos == nullptr ||
      w.rope_sin == nullptr) {
    return "weights are missing";
  }
  for (const DecodeLayerWeights& l : w.layers) {
    if (l.norm_1 == nullptr || l.attention == nullptr || l.proj == nullptr ||
        l.norm_2 == nullptr || l.fc == nullptr || l.mlp_proj == nullptr ||
        l.k_cache == nullptr || l.v_cache == nullptr) {
      return "a layer's weights or cache are missing";
    }
  }
  return "";
}

std::string DecodeStep::ValidateIo(const DecodeIo& io) const {
  if (io.rows < 1 || io.rows > max_rows_) return "rows must be in 1..max_rows";
  if (io.tokens == nullptr || io.positions == nullptr || io.slots == nullptr ||
      io.logits == nullptr) {
    return "tokens, positions, slots and logits must be set";
  }
  if (io.maps != nullptr && io.map_stride < dims_.max_len) {
    return "map_stride must cover max_len";
  }
  if (io.feed != nullptr && io.fed_tokens == nullptr) {
    return "feed needs fed_tokens";
  }
  return "";
}

cudaError_t DecodeStep::EnqueueStage(DecodeStage stage, int layer,
                                     const DecodeWeights& w, const DecodeIo& io,
                                     void* workspace, cudaStream_t stream,
                                     bool pdl) const {
  const DecodeDims& d = dims_;
  const Buffers b = Carve(workspace);
  const int M = io.rows, C = d.n_embd, H = d.n_head, hs = d.head_size;
  const DecodeLayerWeights& l =
      w.layers[stage == DecodeStage::kEmbedding || stage == DecodeStage::kHead
                   ? 0
                   : layer];
  // A product over the residual stream x, RMSNorm'd by `norm` when set.
  auto product = [&](const bf16* norm, const bf16* weight, int n, int k) {
    GemmArgs g;
    g.m = M;
    g.n = n;
    g.k = k;
    g.x = b.x;
    g.x_stride = C;
    g.w = weight;
    g.norm_weight = norm;
    g.norm_eps = d.norm_eps;
    g.tiling = io.gemm_tiling;
    return g;
  };
  switch (stage) {
    case DecodeStage::kEmbedding:
      return LaunchEmbedding(
          w.wte, d.vocab, C,
          {io.tokens, io.feed, io.fed_tokens, io.token_history,
           io.history_slots, io.history_stride, io.positions, io.slots},
          M, b.x, stream, pdl);
    case DecodeStage::kAttentionInput: {
      GemmArgs g = product(l.norm_1, l.attention, d.attention_width(), C);
      g.bias = l.attention_bias;
      g.epilogue = GemmEpilogue::kAttentionInput;
      AttentionInputTarget& t = g.attention;
      t.heads = H;
      t.groups = d.n_query_groups;
      t.head_size = hs;
      t.score_width = d.score_fcn ? H * d.block_size : 0;
      t.activation = d.qkv_activation;
      t.rope_cos = w.rope_cos;
      t.rope_sin = w.rope_sin;
      t.rope_len = d.block_size;
      t.positions = io.positions;
      t.slots = io.slots;
      t.q = b.q;
      t.score = b.score;
      t.k_cache = l.k_cache;
      t.v_cache = l.v_cache;
      t.num_slots = d.num_slots;
      t.max_len = d.max_len;
      return LaunchSkinnyGemm(g, stream, pdl);
    }
    case DecodeStage::kAttention: {
      AttentionArgs a;
      a.rows = M;
      a.heads = H;
      a.groups = d.n_query_groups;
      a.head_size = hs;
      a.q = b.q;
      a.score = d.score_fcn ? b.score : nullptr;
      a.score_stride = d.block_size;
      a.k_cache = l.k_cache;
      a.v_cache = l.v_cache;
      a.num_slots = d.num_slots;
      a.max_len = d.max_len;
      a.positions = io.positions;
      a.slots = io.slots;
      a.y = b.y;
      a.probs = io.maps != nullptr ? io.maps[layer] : nullptr;
      a.probs_stride = io.map_stride;
      // With PDL the kernel copies cached keys before it waits: only the
      // newest may be this step's, unless the rows are a prompt's.
      return LaunchDecodeAttention(a, stream, pdl && !io.prompt);
    }
    case DecodeStage::kAttentionProj:
    case DecodeStage::kMlpProj: {
      const bool attention = stage == DecodeStage::kAttentionProj;
      const int k = attention ? H * hs : d.intermediate;
      GemmArgs g = product(nullptr, attention ? l.proj : l.mlp_proj, C, k);
      g.x = attention ? b.y : b.hidden;
      g.x_stride = k;
      g.residual = b.x;  // x += product, each element by one thread
      g.residual_stride = C;
      g.out = b.x;
      g.out_stride = C;
      return LaunchSkinnyGemm(g, stream, pdl);
    }
    case DecodeStage::kMlpInput: {
      GemmArgs g = product(l.norm_2, l.fc, 2 * d.intermediate, C);
      g.epilogue = GemmEpilogue::kSwiGlu;
      g.out = b.hidden;
      g.out_stride = d.intermediate;
      return LaunchSkinnyGemm(g, stream, pdl);
    }
    case DecodeStage::kHead: {
      GemmArgs g = product(w.ln_f, w.lm_head, d.vocab, C);
      g.epilogue = GemmEpilogue::kFloat;
      g.out = io.logits;
      g.out_stride = d.vocab;
      return LaunchSkinnyGemm(g, stream, pdl);
    }
  }
  return cudaErrorInvalidValue;
}

cudaError_t DecodeStep::Enqueue(const DecodeWeights& w, const DecodeIo& io,
                                void* workspace, cudaStream_t stream,
                                bool pdl) const {
  if (!Validate(w).empty() || !ValidateIo(io).empty() || workspace == nullptr) {
    return cudaErrorInvalidValue;
  }
  cudaError_t status =
      EnqueueStage(DecodeStage::kEmbedding, 0, w, io, workspace, stream, pdl);
  static constexpr DecodeStage kLayerStages[] = {
      DecodeStage::kAttentionInput, DecodeStage::kAttention,
      DecodeStage::kAttentionProj, DecodeStage::kMlpInput,
      DecodeStage::kMlpProj};
  for (int layer = 0; layer < dims_.n_layer; ++layer) {
    for (DecodeStage stage : kLayerStages) {
      if (status != cudaSuccess) return status;
      status = EnqueueStage(stage, layer, w, io, workspace, stream, pdl);
    }
  }
  if (status != cudaSuccess) return status;
  return EnqueueStage(DecodeStage::kHead, 0, w, io, workspace, stream, pdl);
}

}  // namespace tinylm::decode
