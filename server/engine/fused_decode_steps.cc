// FusedDecodeSteps (fused_decode_steps.h) over kernels/decode/'s
// FusedDecoder, one CapturedStep per bucket of rows.
#include "server/engine/fused_decode_steps.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/decode/fused_decoder.h"
#include "kernels/decode/sampling.h"
#include "kernels/decode/skinny_gemm.h"

namespace tinylm {
namespace {

// Greedy rows without alternatives are chosen by the device sampler.
bool DeviceChooses(const SampleRow& row, int64_t top_n) {
  return IsGreedy(row.params) && top_n == 0;
}

class FusedDecodeStepsImpl : public FusedDecodeSteps {
 public:
  FusedDecodeStepsImpl(Transformer& model, KvCache& cache, int64_t num_slots,
                       GraphPool& pool);

  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  std::vector<SampledToken> DecodeAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) override;
  std::string Describe() const override;

 private:
  // Fills the inputs of rows (and their samplers' penalty and history),
  // uploads them and replays the graph of the bucket. Returns the bucket
  // size P; logits_ and choices_ hold the first P rows' results until the
  // next replay.
  int64_t Run(const std::vector<StepRow>& rows,
              const std::vector<SampleRow>* samples);
  // The graph of bucket P: the step, then the device sampler.
  at::Tensor Step(int64_t P);

  const int64_t num_slots_, max_len_, vocab_;
  FusedDecoder decoder_;
  // Inputs, one upload per step: [5, S] int32, rows tokens, positions,
  // cache slots, the sampler's history length (0: no penalty) and its
  // repetition penalty (float bits); the first P columns feed a step of
  // bucket P.
  at::Tensor host_inputs_, inputs_;
  // [S, L] int32 each row's tokens so far, uploaded only for a step with a
  // penalty.
  at::Tensor host_history_, history_;
  at::Tensor logits_;   // [S, V] float32, the first P rows written
  // [2, S] int32 the device sampler's ids and logprobs (float bits), and
  // their pinned host copy.
  at::Tensor choices_, host_choices_;
  std::vector<int64_t> buckets_;  // 1, 2, 4, ..., num_slots_
  std::vector<std::unique_ptr<CapturedStep>> steps_;  // one per bucket
};

FusedDecodeStepsImpl::FusedDecodeStepsImpl(Transformer& model, KvCache& cache,
                                           int64_t num_slots, GraphPool& pool)
    : num_slots_(num_slots),
      max_len_(cache.max_len()),
      vocab_(model->config().vocab_size),
      decoder_(model, cache, num_slots) {
  TORCH_CHECK(vocab_ <= decode::kMaxSamplingVocab,
              "the device sampler takes vocabularies up to ",
              decode::kMaxSamplingVocab, " tokens, not ", vocab_);
  const c10::Device device = cache.keys(0).device();
  const auto ints = at::TensorOptions(at::kInt).device(device);
  host_inputs_ = at::zeros({5, num_slots_}, at::kInt);
  inputs_ = at::zeros({5, num_slots_}, ints);
  host_history_ = at::zeros({num_slots_, max_len_}, at::kInt);
  history_ = at::zeros({num_slots_, max_len_}, ints);
  logits_ = at::empty({num_slots_, vocab_},
                      at::TensorOptions(at::kFloat).device(device));
  choices_ = at::zeros({2, num_slots_}, ints);
  host_choices_ =
      at::empty({2, num_slots_}, at::TensorOptions(at::kInt).pinned_memory(true));
  for (int64_t P = 1;; P *= 2) {
    P = std::min(P, num_slots_);
    buckets_.push_back(P);
    steps_.push_back(
        std::make_unique<CapturedStep>([this, P] { return Step(P); }, pool));
    if (P == num_slots_) break;
  }
}

at::Tensor FusedDecodeStepsImpl::Step(int64_t P) {
  at::Tensor logits = logits_.narrow(0, 0, P);
  decoder_.Decode(inputs_[0].narrow(0, 0, P), inputs_[1].narrow(0, 0, P),
                  inputs_[2].narrow(0, 0, P), logits);
  decode::SamplingArgs a;
  a.rows = static_cast<int>(P);
  a.vocab = static_cast<int>(vocab_);
  a.logits = logits.data_ptr<float>();
  a.logits_stride = vocab_;
  a.penalty = reinterpret_cast<const float*>(inputs_[4].data_ptr<int32_t>());
  a.history = history_.data_ptr<int32_t>();
  a.history_length = inputs_[3].data_ptr<int32_t>();
  a.history_stride = static_cast<int>(max_len_);
  a.token = choices_[0].data_ptr<int32_t>();
  a.logprob = reinterpret_cast<float*>(choices_[1].data_ptr<int32_t>());
  const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream();
  const cudaError_t status = decode::LaunchSampling(a, stream, /*pdl=*/true);
  TORCH_CHECK(status == cudaSuccess, "device sampler: ",
              cudaGetErrorString(status));
  return logits;
}

std::string FusedDecodeStepsImpl::Describe() const {
  const int64_t kernels = steps_.front()->kernel_count();  // 0: eager
  return absl::StrCat(
      "fused decode step (kernels/decode/), ",
      kernels > 0 ? absl::StrCat(kernels, " kernels per step as a CUDA graph")
                  : "eager",
      ", buckets of ", absl::StrJoin(buckets_, "/"), " rows");
}

int64_t FusedDecodeStepsImpl::Run(const std::vector<StepRow>& rows,
                                  const std::vector<SampleRow>* samples) {
  const int64_t B = rows.size();
  TORCH_CHECK(B >= 1 && B <= num_slots_, "decode of ", B, " rows with ",
              num_slots_, " slots");
  size_t bucket = 0;
  while (buckets_[bucket] < B) ++bucket;
  const int64_t P = buckets_[bucket];
  int32_t* token = host_inputs_.data_ptr<int32_t>();
  int32_t* position = token + num_slots_;
  int32_t* slot = position + num_slots_;
  int32_t* history_length = slot + num_slots_;
  float* penalty = reinterpret_cast<float*>(history_length + num_slots_);
  bool any_penalty = false;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    TORCH_CHECK(rows[b].slot >= 0 && rows[b].slot < num_slots_, "slot ",
                rows[b].slot, " of ", num_slots_);
    token[b] = static_cast<int32_t>(ids.back());
    position[b] = static_cast<int32_t>(ids.size()) - 1;
    slot[b] = static_cast<int32_t>(rows[b].slot);
    history_length[b] = 0;
    penalty[b] = 1.0f;
    const SampleRow* sample = samples != nullptr ? &(*samples)[b] : nullptr;
    if (sample != nullptr && sample->params.repetition_penalty != 1.0 &&
        sample->history != nullptr) {
      const std::vector<int64_t>& history = *sample->history;
      TORCH_CHECK(int64_t(history.size()) <= max_len_, "a history of ",
                  history.size(), " tokens for ", max_len_, " positions");
      std::copy(history.begin(), history.end(),
                host_history_[b].data_ptr<int32_t>());
      history_length[b] = static_cast<int32_t>(history.size());
      penalty[b] = static_cast<float>(sample->params.repetition_penalty);
      any_penalty = true;
    }
  }
  for (int64_t b = B; b < P; ++b) {  // padding: touches no cache entry
    token[b] = 0;
    position[b] = -1;
    slot[b] = static_cast<int32_t>(num_slots_);
    history_length[b] = 0;
    penalty[b] = 1.0f;
  }
  // From pageable memory the copies return once the data is staged, so
  // the host buffers may be refilled right away.
  inputs_.copy_(host_inputs_, /*non_blocking=*/true);
  if (any_penalty) {
    history_.narrow(0, 0, B).copy_(host_history_.narrow(0, 0, B),
                                   /*non_blocking=*/true);
  }
  steps_[bucket]->Run();
  return P;
}

at::Tensor FusedDecodeStepsImpl::Decode(const std::vector<StepRow>& rows) {
  Run(rows, nullptr);
  // Copied out: the next replay overwrites the buffer.
  return logits_.narrow(0, 0, rows.size()).clone();
}

std::vector<SampledToken> FusedDecodeStepsImpl::DecodeAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  TORCH_CHECK(samples.size() == rows.size() && top_n.size() == rows.size(),
              "one sample row and top_n per row");
  Run(rows, &samples);
  std::vector<int64_t> on_host;  // rows SampleTokens chooses
  for (size_t b = 0; b < rows.size(); ++b) {
    if (!DeviceChooses(samples[b], top_n[b])) on_host.push_back(b);
  }
  std::vector<SampledToken> out(rows.size());
  if (on_host.size() < rows.size()) {
    host_choices_.copy_(choices_, /*non_blocking=*/true);
    c10::cuda::getCurrentCUDAStream().synchronize();
    const int32_t* id = host_choices_.data_ptr<int32_t>();
    const float* logprob = reinterpret_cast<const float*>(id + num_slots_);
    for (size_t b = 0; b < rows.size(); ++b) {
      out[b].id = id[b];
      out[b].logprob = logprob[b];
    }
  }
  if (!on_host.empty()) {
    std::vector<SampleRow> host_samples;
    int64_t most = 0;
    for (int64_t b : on_host) {
      host_samples.push_back(samples[b]);
      most = std::max(most, top_n[b]);
    }
    const at::Tensor index =
        at::tensor(on_host, at::kLong).to(logits_.device());
    const std::vector<SampledToken> chosen =
        SampleTokens(logits_.index_select(0, index), host_samples, most);
    for (size_t i = 0; i < on_host.size(); ++i) out[on_host[i]] = chosen[i];
  }
  return out;
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
