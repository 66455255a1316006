// FusedDecoder: the fused decode step (decode_step.h) for a loaded
// tinylm::Transformer over a tinylm::KvCache, in LibTorch terms. It packs
// bfloat16 copies of the model's weights once (weight_packing.h; the model
// may be float32 or bfloat16, on a CUDA device) and runs each step on the
// current CUDA stream: no host synchronization, no allocation, so a step
// can be captured in a CUDA graph and replayed with new inputs.
//
// What it computes is Transformer::Forward with the cache for one token
// per row, in bfloat16 with fp32 accumulation, any of the four attention
// variants and grouped-query configurations. The cache must be bfloat16 on
// the model's device; decoding writes each row's key and value at (slot,
// position) as Forward does, so a cache prefilled by Forward decodes as
// well as one prefilled here (Prefill).
//
// Not thread-safe; one step at a time per decoder (they share a workspace).
#ifndef TINYLM_KERNELS_DECODE_FUSED_DECODER_H_
#define TINYLM_KERNELS_DECODE_FUSED_DECODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "kernels/decode/decode_step.h"

namespace tinylm {

class KvCache;
class Transformer;

class FusedDecoder {
 public:
  // `cache` must outlive the decoder; the model's weights are copied where
  // their layout or dtype changes (shared otherwise). Steps of up to
  // `max_rows` rows (1..128). Returns once the packed weights are ready, so
  // steps may run on any stream. Throws c10::Error when the model, cache or
  // device does not fit (the message says which).
  FusedDecoder(Transformer& model, KvCache& cache, int64_t max_rows);
  ~FusedDecoder();
  FusedDecoder(const FusedDecoder&) = delete;
  FusedDecoder& operator=(const FusedDecoder&) = delete;

  int64_t max_rows() const { return max_rows_; }

  // One step for M rows. tokens, positions, slots: [M] int32 on the
  // model's device (positions < the cache length, slots distinct);
  // logits: [M, V] float32, contiguous, written. `maps`, when not null:
  // n_layer tensors [M, H, L] float32 (L >= the cache length) that receive
  // the post-softmax weights. `pdl`: programmatic dependent launch.
  void Decode(const at::Tensor& tokens, const at::Tensor& positions,
              const at::Tensor& slots, at::Tensor& logits,
              std::vector<at::Tensor>* maps = nullptr, bool pdl = true);

  // A prefill step: Decode's arguments, but rows may share a slot, each
  // (slot, position) once, a prompt's positions in order
  // (decode::DecodeIo::prompt). Row m's logits and cache entries are the
  // bits a decode step of that row alone would give after the rows of its
  // slot at lower positions, so one step can prefill several prompts.
  void Prefill(const at::Tensor& tokens, const at::Tensor& positions,
               const at::Tensor& slots, at::Tensor& logits);

  // Later steps take row m's token from chosen[feed[m]] where feed[m] >= 0
  // (embedding.h): feed [max_rows] and chosen int32 on the model's device,
  // read when a step runs (so also by the replays of a captured step).
  void FeedFrom(const at::Tensor& feed, const at::Tensor& chosen);

  // Later steps write each row's token into history [slots, length] int32
  // at (slot, position) (decode::DecodeIo::token_history).
  void RecordTokensIn(const at::Tensor& history);

  // The kernels' view, for the benchmark's per-stage timing.
  const decode::DecodeStep& step() const { return *step_; }
  const decode::DecodeWeights& weights() const { return weights_; }
  void* workspace() const { return workspace_.data_ptr(); }

 private:
  void Step(const at::Tensor& tokens, const at::Tensor& positions,
            const at::Tensor& slots, at::Tensor& logits,
            std::vector<at::Tensor>* maps, bool pdl, bool prompt);

  int64_t max_rows_;
  std::unique_ptr<decode::DecodeStep> step_;
  decode::DecodeWeights weights_;  // pointers into owned_ and the cache
  std::vector<at::Tensor> owned_;  // packed weights and RoPE tables
  at::Tensor workspace_;           // [workspace_bytes] uint8
  at::Tensor feed_, chosen_;       // FeedFrom's, or undefined
  at::Tensor history_;             // RecordTokensIn's, or undefined
};

}  // namespace tinylm

#endif  // TINYLM_KERNELS_DECODE_FUSED_DECODER_H_
