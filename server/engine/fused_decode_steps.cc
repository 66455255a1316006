// FusedDecodeSteps (fused_decode_steps.h) over kernels/decode/'s
// FusedDecoder, one CapturedStep per bucket of rows.
#include "server/engine/fused_decode_steps.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/decode/fused_decoder.h"
#include "kernels/decode/skinny_gemm.h"

namespace tinylm {
namespace {

class FusedDecodeStepsImpl : public FusedDecodeSteps {
 public:
  FusedDecodeStepsImpl(Transformer& model, KvCache& cache, int64_t num_slots,
                       GraphPool& pool);

  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  std::string Describe() const override;

 private:
  const int64_t num_slots_;
  FusedDecoder decoder_;
  // Inputs, one upload per step: [3, S] int32, rows tokens, positions and
  // cache slots; the first P columns feed a step of bucket P.
  at::Tensor host_inputs_, inputs_;
  at::Tensor logits_;             // [S, V] float32, the first P rows written
  std::vector<int64_t> buckets_;  // 1, 2, 4, ..., num_slots_
  std::vector<std::unique_ptr<CapturedStep>> steps_;  // one per bucket
};

FusedDecodeStepsImpl::FusedDecodeStepsImpl(Transformer& model, KvCache& cache,
                                           int64_t num_slots, GraphPool& pool)
    : num_slots_(num_slots), decoder_(model, cache, num_slots) {
  const c10::Device device = cache.keys(0).device();
  host_inputs_ = at::zeros({3, num_slots_}, at::kInt);
  inputs_ =
      at::zeros({3, num_slots_}, at::TensorOptions(at::kInt).device(device));
  logits_ = at::empty({num_slots_, model->config().vocab_size},
                      at::TensorOptions(at::kFloat).device(device));
  for (int64_t P = 1;; P *= 2) {
    P = std::min(P, num_slots_);
    buckets_.push_back(P);
    steps_.push_back(std::make_unique<CapturedStep>(
        [this, P] {
          at::Tensor logits = logits_.narrow(0, 0, P);
          decoder_.Decode(inputs_[0].narrow(0, 0, P),
                          inputs_[1].narrow(0, 0, P),
                          inputs_[2].narrow(0, 0, P), logits);
          return logits;
        },
        pool));
    if (P == num_slots_) break;
  }
}

std::string FusedDecodeStepsImpl::Describe() const {
  const int64_t kernels = steps_.front()->kernel_count();  // 0: eager
  return absl::StrCat(
      "fused decode step (kernels/decode/), ",
      kernels > 0 ? absl::StrCat(kernels, " kernels per step as a CUDA graph")
                  : "eager",
      ", buckets of ", absl::StrJoin(buckets_, "/"), " rows");
}

at::Tensor FusedDecodeStepsImpl::Decode(const std::vector<StepRow>& rows) {
  const int64_t B = rows.size();
  TORCH_CHECK(B >= 1 && B <= num_slots_, "decode of ", B, " rows with ",
              num_slots_, " slots");
  size_t bucket = 0;
  while (buckets_[bucket] < B) ++bucket;
  const int64_t P = buckets_[bucket];
  int32_t* token = host_inputs_.data_ptr<int32_t>();
  int32_t* position = token + num_slots_;
  int32_t* slot = position + num_slots_;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    TORCH_CHECK(rows[b].slot >= 0 && rows[b].slot < num_slots_, "slot ",
                rows[b].slot, " of ", num_slots_);
    token[b] = static_cast<int32_t>(ids.back());
    position[b] = static_cast<int32_t>(ids.size()) - 1;
    slot[b] = static_cast<int32_t>(rows[b].slot);
  }
  for (int64_t b = B; b < P; ++b) {  // padding: touches no cache entry
    token[b] = 0;
    position[b] = -1;
    slot[b] = static_cast<int32_t>(num_slots_);
  }
  // From pageable memory the copy returns once the data is staged, so the
  // host buffer may be refilled right away.
  inputs_.copy_(host_inputs_, /*non_blocking=*/true);
  // Copied out: the next replay overwrites the buffer.
  return steps_[bucket]->Run().narrow(0, 0, B).clone();
}

}  // namespace

std::unique_ptr<FusedDecodeSteps> MakeFusedDecodeSteps(Transformer& model,
                                                       KvCache& cache,
                                                       int64_t num_slots,
                                                       GraphPool& pool,
                                                       std::string* why_not) {
  // A copy: parameters() returns a temporary list.
  const at::Tensor first = model->parameters().front();
  if (!first.is_cuda() || first.scalar_type() != at::kBFloat16 ||
      cache.keys(0).scalar_type() != at::kBFloat16) {
    *why_not = "the fused step runs bfloat16 models on CUDA";
    return nullptr;
  }
  if (num_slots > decode::kMaxGemmRows) {
    *why_not = absl::StrCat("the fused step takes at most ",
                            decode::kMaxGemmRows, " slots, not ", num_slots);
    return nullptr;
  }
  try {
    return std::make_unique<FusedDecodeStepsImpl>(model, cache, num_slots,
                                                  pool);
  } catch (const c10::Error& e) {
    // A shape the kernels do not take (FusedDecoder checks it before it
    // launches anything): the LibTorch step serves the model instead.
    *why_not = e.what_without_backtrace();
    return nullptr;
  }
}

}  // namespace tinylm
