// FusedDecodeSteps (fused_decode_steps.h) over kernels/decode/'s
// FusedDecoder, one CapturedStep per bucket of rows.
#include "server/engine/fused_decode_steps.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/decode/fused_decoder.h"
#include "kernels/decode/sampling.h"
#include "kernels/decode/skinny_gemm.h"

namespace tinylm {
namespace {

// Copies `from` into `to`, tensors of one size (one pinned on the host,
// one on the device), on the current stream: cudaMemcpyAsync itself, as
// copy_ goes through LibTorch's dispatch and checks, host time that every
// step would pay.
void CopyAsync(const at::Tensor& from, at::Tensor& to) {
  C10_CUDA_CHECK(cudaMemcpyAsync(to.data_ptr(), from.const_data_ptr(),
                                 to.nbytes(), cudaMemcpyDefault,
                                 c10::cuda::getCurrentCUDAStream()));
}

class FusedDecodeStepsImpl : public FusedDecodeSteps {
 public:
  FusedDecodeStepsImpl(Transformer& model, KvCache& cache, int64_t num_slots,
                       GraphPool& pool);

  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  at::Tensor Prefill(const std::vector<StepRow>& rows) override;
  std::vector<SampledToken> DecodeAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) override;
  std::vector<SampledToken> PrefillAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) override;
  void Launch(const std::vector<LaunchRow>& rows) override;
  std::vector<SampledToken> Finish() override;
  bool CanLaunch(const SamplingParams& sampling, int64_t top_n) const override {
    return DeviceChooses(sampling, top_n);
  }
  std::string Describe() const override;

 private:
  // One column of the host inputs (kInputRows rows below); the sampling
  // fields as kernels/decode/sampling.h takes them (greedy by default).
  struct Column {
    int32_t token, position, slot, history_length, feed;
    float penalty;
    float inverse_temperature = 0.0f;
    int32_t top_k = 0;
    float top_p = 1.0f, min_p = 0.0f, uniform = 0.0f;
    int32_t top_n = 0;
  };
  // Whether the device sampler chooses for such a row: all rows with up to
  // kAlternatives alternatives where the vocabulary fits its sort, else
  // greedy rows without alternatives.
  bool DeviceChooses(const SamplingParams& sampling, int64_t top_n) const;
  // The sampling fields of `column` for a row drawn with `sampling` at
  // `position` (the uniform's counter; also the number of the sequence's
  // tokens the penalty reads from the device record, history_) with
  // `top_n` alternatives.
  static void SetSampling(const SamplingParams& sampling, int64_t position,
                          int64_t top_n, Column& column);
  // SetSampling for `sample` where the device chooses (rows it does not
  // choose keep a greedy column); sets *alternatives when it has them.
  // A penalty's history must be the sequence so far (sample.position
  // tokens), which the device has recorded.
  void SetDraw(const SampleRow& sample, int64_t top_n, Column& column,
               bool* alternatives) const;
  // Enqueues the device sampler over the first `rows` rows of `logits`
  // with the uploaded draws, into `choices` and `alternatives`.
  void LaunchSampler(int64_t rows, const at::Tensor& logits,
                     const at::Tensor& choices, const at::Tensor& alternatives);
  // Host choices of B rows from copies of the sampler's outputs, row b
  // with its first top_n[b] alternatives where `top_n` is set.
  static std::vector<SampledToken> ReadChoices(
      const at::Tensor& host_choices, const at::Tensor& host_alternatives,
      int64_t B, const std::vector<int64_t>* top_n);
  // SampleEachRow for the rows of `logits` that the device does not
  // choose, into `out`.
  void SampleOnHost(const at::Tensor& logits,
                    const std::vector<SampleRow>& samples,
                    const std::vector<int64_t>& top_n,
                    std::vector<SampledToken>& out) const;
  // Sets column b of the host buffer about to be uploaded.
  void SetColumn(int64_t b, const Column& column);
  // Columns for decode rows (with their samplers' parameters, history and
  // alternatives where `samples` and `top_n` are set), then Replay.
  // Returns Replay's parity.
  int ReplayRows(const std::vector<StepRow>& rows,
                 const std::vector<SampleRow>* samples,
                 const std::vector<int64_t>* top_n);
  // The index of the smallest of `buckets` >= B.
  static size_t BucketFor(const std::vector<int64_t>& buckets, int64_t B);
  // Pads columns B..P-1 and uploads the inputs from
  // host_inputs_[input_parity_]; then flips that parity.
  void Upload(int64_t B, int64_t P);
  // Uploads the inputs of B decode rows, replays the decode graph of
  // bucket P >= B and
  // queues the copy of the device choices (and their alternatives when
  // `alternatives`) to the host buffers of choice_parity_; then flips that
  // parity. Returns the choice parity the step used.
  int Replay(int64_t B, bool alternatives);
  // Uploads B prompt columns and replays the prefill graph of bucket
  // P >= B; the first B rows of logits_ hold their logits.
  void ReplayPrefill(int64_t B);
  // The decode graph of bucket P: the step, then the device sampler.
  at::Tensor Step(int64_t P);
  // The prefill graph of bucket P: the step over prompt rows, no sampler
  // (its choices feed launched steps).
  at::Tensor PrefillStep(int64_t P);
  // The device sampler's ids and logprobs of the step that used `parity`,
  // with row b's first top_n[b] alternatives where `top_n` is set.
  std::vector<SampledToken> Choices(int parity, int64_t B,
                                    const std::vector<int64_t>* top_n);

  static constexpr int kInputRows = 13;
  static constexpr int kLastColumnsRow = 12;
  static constexpr int kAlternatives = decode::kMaxAlternatives;
  // Rows of a step: a decode step has at most num_slots_, a prefill step
  // this many prompt positions.
  static constexpr int64_t kRows = decode::kMaxGemmRows;
  const int64_t num_slots_, max_len_, vocab_;
  FusedDecoder decoder_;
  // Inputs, one upload per step: [kInputRows, kRows] int32, rows tokens,
  // positions, cache slots, the sampler's history length (0: no penalty),
  // its repetition penalty (float bits), the feed (LaunchRow::feed, -1:
  // none), then the sampler's inverse temperature, top_k, top_p, min_p,
  // uniform (floats as bits) and top_n, in Column's order; for a prefill
  // step, row kLastColumnsRow lists the columns of the prompts that end in
  // it (their logits are read), so that needs no copy of its own. The
  // first P columns feed a step of bucket P. The host side
  // is pinned and double-buffered by upload parity, so an upload never
  // waits for the device and a buffer is refilled only once its upload is
  // done.
  at::Tensor host_inputs_[2], inputs_;
  at::cuda::CUDAEvent inputs_copied_[2];
  int input_parity_ = 0;
  // [S + 1, L] int32 each slot's tokens by position, written by the steps
  // themselves (FusedDecoder::RecordTokensIn) and read by the repetition
  // penalty, so that no history crosses from the host.
  at::Tensor history_;
  at::Tensor logits_;  // [kRows, V] float32, the first P rows written
  // [2, kRows] int32 the device sampler's ids and logprobs (float bits),
  // and their pinned host copies by the parity of decode steps (prefill
  // steps leave both alone).
  at::Tensor choices_, host_choices_[2];
  // [kRows, 2 · kAlternatives] int32 each row's alternative ids, then their
  // logprobs (float bits), with host copies as for choices_ (made only for
  // steps where a row asks for alternatives).
  at::Tensor alternatives_, host_alternatives_[2];
  at::cuda::CUDAEvent choices_copied_[2];
  // The same for the first tokens after a prefill (PrefillAndSample), kept
  // apart from the decode steps' choices, which launched steps feed from.
  at::Tensor prefill_choices_, host_prefill_choices_;
  at::Tensor prefill_alternatives_, host_prefill_alternatives_;
  at::cuda::CUDAEvent prefill_choices_copied_;
  int choice_parity_ = 0;
  // A launched step not finished: its choice parity, rows and their
  // alternatives.
  struct Launched {
    int parity = 0;
    int64_t rows = 0;
    std::vector<int64_t> top_n;
  };
  std::deque<Launched> launched_;  // oldest first
  std::vector<int64_t> buckets_;  // 1, 2, 4, ..., num_slots_
  std::vector<std::unique_ptr<CapturedStep>> steps_;  // one per bucket
  std::vector<int64_t> prefill_buckets_;              // 1, 2, 4, ..., kRows
  std::vector<std::unique_ptr<CapturedStep>> prefill_steps_;
};

FusedDecodeStepsImpl::FusedDecodeStepsImpl(Transformer& model, KvCache& cache,
                                           int64_t num_slots, GraphPool& pool)
    : num_slots_(num_slots),
      max_len_(cache.max_len()),
      vocab_(model->config().vocab_size),
      decoder_(model, cache, kRows) {
  TORCH_CHECK(vocab_ <= decode::kMaxSamplingVocab,
              "the device sampler takes vocabularies up to ",
              decode::kMaxSamplingVocab, " tokens, not ", vocab_);
  const c10::Device device = cache.keys(0).device();
  const auto ints = at::TensorOptions(at::kInt).device(device);
  const auto pinned = at::TensorOptions(at::kInt).pinned_memory(true);
  for (int p = 0; p < 2; ++p) {
    host_inputs_[p] = at::zeros({kInputRows, kRows}, pinned);
    host_choices_[p] = at::zeros({2, kRows}, pinned);
    host_alternatives_[p] = at::zeros({kRows, 2 * kAlternatives}, pinned);
  }
  inputs_ = at::zeros({kInputRows, kRows}, ints);
  history_ = at::zeros({num_slots_ + 1, max_len_}, ints);
  logits_ =
      at::empty({kRows, vocab_}, at::TensorOptions(at::kFloat).device(device));
  choices_ = at::zeros({2, kRows}, ints);
  alternatives_ = at::zeros({kRows, 2 * kAlternatives}, ints);
  prefill_choices_ = at::zeros({2, kRows}, ints);
  prefill_alternatives_ = at::zeros({kRows, 2 * kAlternatives}, ints);
  host_prefill_choices_ = at::zeros({2, kRows}, pinned);
  host_prefill_alternatives_ = at::zeros({kRows, 2 * kAlternatives}, pinned);
  decoder_.FeedFrom(inputs_[5], choices_[0]);
  decoder_.RecordTokensIn(history_);
  for (int64_t P = 1;; P *= 2) {
    P = std::min(P, num_slots_);
    buckets_.push_back(P);
    steps_.push_back(
        std::make_unique<CapturedStep>([this, P] { return Step(P); }, pool));
    if (P == num_slots_) break;
  }
  for (int64_t P = 1; P <= kRows; P *= 2) {
    prefill_buckets_.push_back(P);
    prefill_steps_.push_back(std::make_unique<CapturedStep>(
        [this, P] { return PrefillStep(P); }, pool));
  }
}

at::Tensor FusedDecodeStepsImpl::PrefillStep(int64_t P) {
  at::Tensor logits = logits_.narrow(0, 0, P);
  decoder_.Prefill(inputs_[0].narrow(0, 0, P), inputs_[1].narrow(0, 0, P),
                   inputs_[2].narrow(0, 0, P), logits);
  return logits;
}

at::Tensor FusedDecodeStepsImpl::Step(int64_t P) {
  at::Tensor logits = logits_.narrow(0, 0, P);
  decoder_.Decode(inputs_[0].narrow(0, 0, P), inputs_[1].narrow(0, 0, P),
                  inputs_[2].narrow(0, 0, P), logits);
  LaunchSampler(P, logits, choices_, alternatives_);
  return logits;
}

void FusedDecodeStepsImpl::LaunchSampler(int64_t rows, const at::Tensor& logits,
                                         const at::Tensor& choices,
                                         const at::Tensor& alternatives) {
  decode::SamplingArgs a;
  a.rows = static_cast<int>(rows);
  a.vocab = static_cast<int>(vocab_);
  a.logits = logits.const_data_ptr<float>();
  a.logits_stride = vocab_;
  auto floats = [&](int row) {
    return reinterpret_cast<const float*>(inputs_[row].data_ptr<int32_t>());
  };
  a.penalty = floats(4);
  a.history = history_.data_ptr<int32_t>();
  a.history_row = inputs_[2].data_ptr<int32_t>();  // the slots
  a.history_length = inputs_[3].data_ptr<int32_t>();
  a.history_stride = static_cast<int>(max_len_);
  a.token = choices[0].data_ptr<int32_t>();
  a.logprob = reinterpret_cast<float*>(choices[1].data_ptr<int32_t>());
  if (vocab_ <= decode::kMaxSortingVocab) {
    a.inverse_temperature = floats(6);
    a.top_k = inputs_[7].data_ptr<int32_t>();
    a.top_p = floats(8);
    a.min_p = floats(9);
    a.uniform = floats(10);
    a.top_n = inputs_[11].data_ptr<int32_t>();
    a.alternative_ids = alternatives.data_ptr<int32_t>();
    a.alternative_logprobs = reinterpret_cast<float*>(
        alternatives.data_ptr<int32_t>() + kAlternatives);
    a.alternative_stride = 2 * kAlternatives;
  }
  const cudaError_t status = decode::LaunchSampling(
      a, c10::cuda::getCurrentCUDAStream(), /*pdl=*/true);
  TORCH_CHECK(status == cudaSuccess,
              "device sampler: ", cudaGetErrorString(status));
}

std::string FusedDecodeStepsImpl::Describe() const {
  const int64_t kernels = steps_.front()->kernel_count();  // 0: eager
  return absl::StrCat(
      "fused decode step (kernels/decode/), ",
      kernels > 0 ? absl::StrCat(kernels, " kernels per step as a CUDA graph")
                  : "eager",
      ", buckets of ", absl::StrJoin(buckets_, "/"),
      " rows; prefill in the same kernels, up to ", kRows,
      " prompt positions per step");
}

bool FusedDecodeStepsImpl::DeviceChooses(const SamplingParams& sampling,
                                         int64_t top_n) const {
  if (top_n > kAlternatives) return false;
  return vocab_ <= decode::kMaxSortingVocab ||
         (IsGreedy(sampling) && top_n == 0);
}

void FusedDecodeStepsImpl::SetSampling(const SamplingParams& p,
                                       int64_t position, int64_t top_n,
                                       Column& column) {
  // As models/sampler.cc rounds them: 1 / T, top_p, min_p and the uniform
  // computed in double, then taken as floats.
  if (!IsGreedy(p)) {
    column.inverse_temperature = static_cast<float>(1.0 / p.temperature);
    column.top_k = static_cast<int32_t>(p.top_k);
    column.top_p = static_cast<float>(p.top_p);
    column.min_p = static_cast<float>(p.min_p);
    column.uniform = static_cast<float>(CounterUniform(p.seed, position));
  }
  if (p.repetition_penalty != 1.0) {
    column.penalty = static_cast<float>(p.repetition_penalty);
    column.history_length = static_cast<int32_t>(position);
  }
  column.top_n = static_cast<int32_t>(top_n);
}

void FusedDecodeStepsImpl::SetColumn(int64_t b, const Column& c) {
  int32_t* in = host_inputs_[input_parity_].data_ptr<int32_t>();
  auto set_float = [&](int row, float v) {
    std::memcpy(&in[row * kRows + b], &v, sizeof(float));
  };
  in[0 * kRows + b] = c.token;
  in[1 * kRows + b] = c.position;
  in[2 * kRows + b] = c.slot;
  in[3 * kRows + b] = c.history_length;
  set_float(4, c.penalty);
  in[5 * kRows + b] = c.feed;
  set_float(6, c.inverse_temperature);
  in[7 * kRows + b] = c.top_k;
  set_float(8, c.top_p);
  set_float(9, c.min_p);
  set_float(10, c.uniform);
  in[11 * kRows + b] = c.top_n;
}

size_t FusedDecodeStepsImpl::BucketFor(const std::vector<int64_t>& buckets,
                                       int64_t B) {
  size_t bucket = 0;
  while (buckets[bucket] < B) ++bucket;
  return bucket;
}

void FusedDecodeStepsImpl::Upload(int64_t B, int64_t P) {
  for (int64_t b = B; b < P; ++b) {  // padding: touches no cache entry
    SetColumn(b, {0, -1, static_cast<int32_t>(num_slots_), 0, -1, 1.0f});
  }
  const int parity = input_parity_;
  CopyAsync(host_inputs_[parity], inputs_);
  inputs_copied_[parity].record(c10::cuda::getCurrentCUDAStream());
  input_parity_ = 1 - parity;
  // The next upload's host buffer: refilled once its last upload is done.
  inputs_copied_[input_parity_].synchronize();
}

int FusedDecodeStepsImpl::Replay(int64_t B, bool alternatives) {
  const size_t bucket = BucketFor(buckets_, B);
  Upload(B, buckets_[bucket]);
  steps_[bucket]->Run();
  const int parity = choice_parity_;
  CopyAsync(choices_, host_choices_[parity]);
  if (alternatives) {
    CopyAsync(alternatives_, host_alternatives_[parity]);
  }
  choices_copied_[parity].record(c10::cuda::getCurrentCUDAStream());
  choice_parity_ = 1 - parity;
  return parity;
}

void FusedDecodeStepsImpl::ReplayPrefill(int64_t B) {
  const size_t bucket = BucketFor(prefill_buckets_, B);
  Upload(B, prefill_buckets_[bucket]);
  prefill_steps_[bucket]->Run();
}

std::vector<SampledToken> FusedDecodeStepsImpl::Choices(
    int parity, int64_t B, const std::vector<int64_t>* top_n) {
  choices_copied_[parity].synchronize();
  return ReadChoices(host_choices_[parity], host_alternatives_[parity], B,
                     top_n);
}

std::vector<SampledToken> FusedDecodeStepsImpl::ReadChoices(
    const at::Tensor& host_choices, const at::Tensor& host_alternatives,
    int64_t B, const std::vector<int64_t>* top_n) {
  const int32_t* id = host_choices.const_data_ptr<int32_t>();
  const float* logprob = reinterpret_cast<const float*>(id + kRows);
  const int32_t* alternatives = host_alternatives.const_data_ptr<int32_t>();
  std::vector<SampledToken> out(B);
  for (int64_t b = 0; b < B; ++b) {
    out[b].id = id[b];
    out[b].logprob = logprob[b];
    const int64_t n = top_n != nullptr ? (*top_n)[b] : 0;
    const int32_t* row = alternatives + b * 2 * kAlternatives;
    for (int64_t i = 0; i < n; ++i) {
      float alternative_logprob;
      std::memcpy(&alternative_logprob, &row[kAlternatives + i], sizeof(float));
      out[b].alternatives.push_back({row[i], alternative_logprob});
    }
  }
  return out;
}

void FusedDecodeStepsImpl::SetDraw(const SampleRow& sample, int64_t top_n,
                                   Column& column, bool* alternatives) const {
  if (!DeviceChooses(sample.params, top_n)) return;
  SamplingParams params = sample.params;
  if (sample.history == nullptr) {
    params.repetition_penalty = 1.0;  // as SampleTokens, which has none
  } else {
    TORCH_CHECK(params.repetition_penalty == 1.0 ||
                    int64_t(sample.history->size()) == sample.position,
                "a repetition penalty's history must be the sequence so far");
  }
  SetSampling(params, sample.position, top_n, column);
  *alternatives |= column.top_n > 0;
}

void FusedDecodeStepsImpl::SampleOnHost(const at::Tensor& logits,
                                        const std::vector<SampleRow>& samples,
                                        const std::vector<int64_t>& top_n,
                                        std::vector<SampledToken>& out) const {
  std::vector<int64_t> on_host;
  std::vector<SampleRow> host_samples;
  std::vector<int64_t> host_top_n;
  for (size_t b = 0; b < samples.size(); ++b) {
    if (DeviceChooses(samples[b].params, top_n[b])) continue;
    on_host.push_back(b);
    host_samples.push_back(samples[b]);
    host_top_n.push_back(top_n[b]);
  }
  if (on_host.empty()) return;
  const at::Tensor index = at::tensor(on_host, at::kLong).to(logits.device());
  const std::vector<SampledToken> chosen =
      SampleEachRow(logits.index_select(0, index), host_samples, host_top_n);
  for (size_t i = 0; i < on_host.size(); ++i) out[on_host[i]] = chosen[i];
}

int FusedDecodeStepsImpl::ReplayRows(const std::vector<StepRow>& rows,
                                     const std::vector<SampleRow>* samples,
                                     const std::vector<int64_t>* top_n) {
  const int64_t B = rows.size();
  TORCH_CHECK(B >= 1 && B <= num_slots_, "decode of ", B, " rows with ",
              num_slots_, " slots");
  TORCH_CHECK(launched_.empty(), "decode with launched steps unfinished");
  bool any_alternatives = false;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    TORCH_CHECK(rows[b].slot >= 0 && rows[b].slot < num_slots_, "slot ",
                rows[b].slot, " of ", num_slots_);
    Column column = {static_cast<int32_t>(ids.back()),
                     static_cast<int32_t>(ids.size()) - 1,
                     static_cast<int32_t>(rows[b].slot),
                     0,
                     -1,
                     1.0f};
    if (samples != nullptr) {
      SetDraw((*samples)[b], (*top_n)[b], column, &any_alternatives);
    }
    SetColumn(b, column);
  }
  return Replay(B, any_alternatives);
}

at::Tensor FusedDecodeStepsImpl::Decode(const std::vector<StepRow>& rows) {
  ReplayRows(rows, nullptr, nullptr);
  // Copied out: the next replay overwrites the buffer.
  return logits_.narrow(0, 0, rows.size()).clone();
}

at::Tensor FusedDecodeStepsImpl::Prefill(const std::vector<StepRow>& rows) {
  TORCH_CHECK(!rows.empty(), "prefill of no rows");
  // Per step, the logits of the prompts that end in it: rows end in row
  // order, so these parts in order are the rows in order.
  std::vector<at::Tensor> parts;
  // The step being filled: its columns, and the column of each last token
  // among them.
  int64_t columns = 0;
  std::vector<int64_t> last_columns;
  auto run = [&] {
    int32_t* last = host_inputs_[input_parity_].data_ptr<int32_t>() +
                    kLastColumnsRow * kRows;
    std::copy(last_columns.begin(), last_columns.end(), last);
    ReplayPrefill(columns);
    if (!last_columns.empty()) {
      // Copied out before the next step overwrites logits_.
      parts.push_back(logits_.index_select(
          0, inputs_[kLastColumnsRow].narrow(0, 0, last_columns.size())));
    }
    columns = 0;
    last_columns.clear();
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::vector<int64_t>& ids = *rows[r].tokens;
    const int64_t n = ids.size();
    TORCH_CHECK(n >= 1 && n <= max_len_, "prompt of ", n,
                " tokens for a cache of ", max_len_, " positions");
    TORCH_CHECK(rows[r].slot >= 0 && rows[r].slot < num_slots_, "slot ",
                rows[r].slot, " of ", num_slots_);
    for (int64_t p = 0; p < n; ++p) {
      SetColumn(columns, {static_cast<int32_t>(ids[p]), static_cast<int32_t>(p),
                          static_cast<int32_t>(rows[r].slot), 0, -1, 1.0f});
      ++columns;
      if (p == n - 1) last_columns.push_back(columns - 1);
      if (columns == kRows) run();
    }
  }
  if (columns > 0) run();
  return parts.size() == 1 ? parts.front() : at::cat(parts, 0);
}

std::vector<SampledToken> FusedDecodeStepsImpl::DecodeAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  TORCH_CHECK(samples.size() == rows.size() && top_n.size() == rows.size(),
              "one sample row and top_n per row");
  const int parity = ReplayRows(rows, &samples, &top_n);
  std::vector<SampledToken> out = Choices(parity, rows.size(), &top_n);
  SampleOnHost(logits_.narrow(0, 0, rows.size()), samples, top_n, out);
  return out;
}

std::vector<SampledToken> FusedDecodeStepsImpl::PrefillAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  TORCH_CHECK(samples.size() == rows.size() && top_n.size() == rows.size(),
              "one sample row and top_n per row");
  const int64_t B = rows.size();
  TORCH_CHECK(B <= num_slots_, "prefill of ", B, " rows with ", num_slots_,
              " slots");
  const at::Tensor logits = Prefill(rows);  // [B, V], a copy
  // Columns that only draw: the sampler reads their draw fields and slots
  // (the penalty's history rows) alone.
  bool any_alternatives = false;
  for (int64_t b = 0; b < B; ++b) {
    Column column = {0, -1, static_cast<int32_t>(rows[b].slot), 0, -1, 1.0f};
    SetDraw(samples[b], top_n[b], column, &any_alternatives);
    SetColumn(b, column);
  }
  Upload(B, B);
  LaunchSampler(B, logits, prefill_choices_, prefill_alternatives_);
  CopyAsync(prefill_choices_, host_prefill_choices_);
  if (any_alternatives) {
    CopyAsync(prefill_alternatives_, host_prefill_alternatives_);
  }
  prefill_choices_copied_.record(c10::cuda::getCurrentCUDAStream());
  prefill_choices_copied_.synchronize();
  std::vector<SampledToken> out =
      ReadChoices(host_prefill_choices_, host_prefill_alternatives_, B, &top_n);
  SampleOnHost(logits, samples, top_n, out);
  return out;
}

void FusedDecodeStepsImpl::Launch(const std::vector<LaunchRow>& rows) {
  const int64_t B = rows.size();
  TORCH_CHECK(B >= 1 && B <= num_slots_, "launch of ", B, " rows with ",
              num_slots_, " slots");
  TORCH_CHECK(launched_.size() < 2, "two launched steps unfinished");
  Launched launched;
  launched.rows = B;
  for (int64_t b = 0; b < B; ++b) {
    const LaunchRow& row = rows[b];
    TORCH_CHECK(row.slot >= 0 && row.slot < num_slots_, "slot ", row.slot,
                " of ", num_slots_);
    TORCH_CHECK(row.position >= 0 && row.position < max_len_, "position ",
                row.position, " of ", max_len_);
    TORCH_CHECK(row.feed < 0 ||
                    (!launched_.empty() && row.feed < launched_.back().rows),
                "feed ", row.feed, " without such a row launched");
    Column column = {
        static_cast<int32_t>(row.token), static_cast<int32_t>(row.position),
        static_cast<int32_t>(row.slot),  0,
        static_cast<int32_t>(row.feed),  1.0f};
    TORCH_CHECK(DeviceChooses(row.sampling, row.top_n),
                "a launched row the device sampler does not choose");
    SetSampling(row.sampling, row.position + 1, row.top_n, column);
    launched.top_n.push_back(column.top_n);
    SetColumn(b, column);
  }
  const bool alternatives =
      std::any_of(launched.top_n.begin(), launched.top_n.end(),
                  [](int64_t n) { return n > 0; });
  launched.parity = Replay(B, alternatives);
  launched_.push_back(std::move(launched));
}

std::vector<SampledToken> FusedDecodeStepsImpl::Finish() {
  TORCH_CHECK(!launched_.empty(), "no launched step to finish");
  const Launched launched = std::move(launched_.front());
  launched_.pop_front();
  return Choices(launched.parity, launched.rows, &launched.top_n);
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
