// The static StepRunner (step_runner.h): fixed shapes over preallocated
// buffers, each step a CapturedStep (a CUDA graph where available).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/fused_decode_steps.h"
#include "server/engine/step_graph.h"
#include "server/engine/step_runner.h"

namespace tinylm {
namespace {

constexpr int64_t kSmallestBucket = 16;
// Prompts prefilled together, at most: every prefill step runs this many
// rows (fewer only with fewer slots), so a burst of new requests costs a few
// steps rather than one per request.
constexpr int64_t kPrefillRows = 16;

class StaticStepRunner : public StepRunner {
 public:
  StaticStepRunner(Transformer& model, int64_t num_slots, bool capture_graphs,
                   bool fused_decode);

  at::Tensor Prefill(const std::vector<StepRow>& rows) override;
  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  std::vector<SampledToken> DecodeAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) override;
  std::vector<SampledToken> PrefillAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) override;
  void Launch(const std::vector<LaunchRow>& rows) override;
  std::vector<SampledToken> Finish() override;
  bool launches_ahead() const override { return fused_ != nullptr; }
  bool CanLaunch(const SamplingParams& sampling, int64_t top_n) const override {
    return fused_ == nullptr || fused_->CanLaunch(sampling, top_n);
  }
  std::string Describe() const override;

 private:
  // Logits [n, V] after the prompts of rows[indices[0..n)], all in bucket
  // `bucket`, n <= prefill_rows_, prefilled in one step.
  at::Tensor PrefillGroup(const std::vector<StepRow>& rows,
                          const std::vector<size_t>& indices, size_t bucket);
  // The smallest bucket that holds `length` tokens.
  size_t BucketFor(int64_t length) const;

  Transformer& model_;
  const int64_t num_slots_, max_len_, prefill_rows_;
  KvCache cache_;  // num_slots_ + 1 slots: the last is the scratch slot
  GraphPool pool_;

  // Decode inputs, one upload per step: [4, S] int64 over the S servable
  // slots. Row 0: the token fed to each slot; row 1: its position; row 2:
  // where its key and value go: the slot itself, or for a slot not in the
  // batch the scratch slot (the cache's last), which nothing reads; row 3
  // (first B entries): the slots of the requested rows in order.
  at::Tensor decode_host_, decode_inputs_;
  std::unique_ptr<CapturedStep> decode_;  // null when fused_ decodes
  // The fused CUDA decode step (fused_decode_steps.h) where it can run;
  // else why not, for Describe().
  std::unique_ptr<FusedDecodeSteps> fused_;
  std::string why_not_fused_;

  // Prefill inputs, one upload per step: [P, 2 + max_len] int64, per row
  // the slot to write (scratch for unused rows), the index of the prompt's
  // last token, then the prompt, zero-padded. Padding writes keys past the
  // prompt that the prompt's own tokens never see and decoding overwrites
  // before it reads them. A row's prefill shape depends only on its own
  // length (its bucket), never on the other prompts.
  at::Tensor prefill_host_, prefill_inputs_;
  at::Tensor positions_;  // [P, max_len] int64, each row 0..max_len-1
  std::vector<int64_t> bucket_lengths_;
  std::vector<std::unique_ptr<CapturedStep>> prefill_;  // one per bucket
};

StaticStepRunner::StaticStepRunner(Transformer& model, int64_t num_slots,
                                   bool capture_graphs, bool fused_decode)
    : model_(model),
      num_slots_(num_slots),
      max_len_(model->config().block_size),
      prefill_rows_(std::min(kPrefillRows, num_slots_)),
      cache_(model->config(), num_slots_ + 1, max_len_,
             model->parameters().front().device(),
             model->parameters().front().scalar_type()),
      pool_(cache_.keys(0).device(), capture_graphs) {
  TORCH_CHECK(num_slots_ > 0, "static steps need a slot");
  const c10::Device device = cache_.keys(0).device();
  const auto on_device = at::TensorOptions().dtype(at::kLong).device(device);
  decode_host_ = at::zeros({4, num_slots_}, at::kLong);
  decode_inputs_ = at::zeros({4, num_slots_}, on_device);
  if (fused_decode) {
    fused_ = MakeFusedDecodeSteps(model_, cache_, num_slots_, pool_,
                                  &why_not_fused_);
  } else {
    why_not_fused_ = "turned off";
  }
  if (fused_ == nullptr) {
    std::vector<int64_t> every_slot(num_slots_);
    for (int64_t s = 0; s < num_slots_; ++s) every_slot[s] = s;
    decode_ = std::make_unique<CapturedStep>(
        [this, every_slot] {
          ForwardInput input;
          input.tokens = decode_inputs_[0].view({num_slots_, 1});
          input.positions = decode_inputs_[1].view({num_slots_, 1});
          input.cache = &cache_;
          input.slots = every_slot;  // consecutive: read as one slice
          input.slot_rows = decode_inputs_[2];  // written as listed
          input.kv_length = max_len_;
          input.fused_attention = true;
          return model_->Forward(input).logits.select(1, 0).to(
              at::kFloat);  // [S, V]
        },
        pool_);
  }
  if (fused_ != nullptr) return;  // it prefills too

  prefill_host_ = at::zeros({prefill_rows_, 2 + max_len_}, at::kLong);
  prefill_inputs_ = at::zeros({prefill_rows_, 2 + max_len_}, on_device);
  positions_ = at::arange(max_len_, on_device)
                   .view({1, max_len_})
                   .repeat({prefill_rows_, 1});
  for (int64_t T = kSmallestBucket;; T *= 2) {
    T = std::min(T, max_len_);
    bucket_lengths_.push_back(T);
    prefill_.push_back(std::make_unique<CapturedStep>(
        [this, T] {
          ForwardInput input;
          input.tokens = prefill_inputs_.narrow(1, 2, T);
          input.positions = positions_.narrow(1, 0, T);
          input.cache = &cache_;
          input.slot_rows = prefill_inputs_.select(1, 0);
          input.kv_length = T;
          input.fused_attention = true;
          input.logits_at = prefill_inputs_.select(1, 1);
          return model_->Forward(input).logits.select(1, 0).to(
              at::kFloat);  // [P, V]
        },
        pool_));
    if (T == max_len_) break;
  }
}

std::string StaticStepRunner::Describe() const {
  const std::string steps =
      fused_ != nullptr
          ? fused_->Describe()
          : absl::StrCat(
                "LibTorch decode step over ", num_slots_, " slots",
                pool_.capturing()
                    ? absl::StrCat(" (", decode_->kernel_count(), " kernels)")
                    : "",
                " (fused step: ", why_not_fused_, "); prefill: up to ",
                prefill_rows_, " prompts per step, buckets of ",
                absl::StrJoin(bucket_lengths_, "/"), " tokens");
  return absl::StrCat("static shapes, ",
                      pool_.capturing() ? "CUDA graphs" : "eager", "; ", steps,
                      "; ", DescribeCache(cache_));
}

size_t StaticStepRunner::BucketFor(int64_t length) const {
  TORCH_CHECK(length > 0 && length <= max_len_, "prompt of ", length,
              " tokens for a cache of ", max_len_, " positions");
  size_t bucket = 0;
  while (bucket_lengths_[bucket] < length) ++bucket;
  return bucket;
}

at::Tensor StaticStepRunner::PrefillGroup(const std::vector<StepRow>& rows,
                                          const std::vector<size_t>& indices,
                                          size_t bucket) {
  const int64_t width = 2 + max_len_;
  const int64_t T = bucket_lengths_[bucket];
  int64_t* host = prefill_host_.data_ptr<int64_t>();
  for (int64_t r = 0; r < prefill_rows_; ++r) {
    int64_t* row = host + r * width;
    std::fill(row, row + 2 + T, 0);
    row[0] = num_slots_;  // scratch, unless a prompt takes the row
  }
  for (size_t r = 0; r < indices.size(); ++r) {
    const StepRow& step_row = rows[indices[r]];
    const std::vector<int64_t>& ids = *step_row.tokens;
    TORCH_CHECK(step_row.slot >= 0 && step_row.slot < num_slots_, "slot ",
                step_row.slot, " of ", num_slots_);
    int64_t* row = host + r * width;
    row[0] = step_row.slot;
    row[1] = int64_t(ids.size()) - 1;
    std::copy(ids.begin(), ids.end(), row + 2);
  }
  // From pageable memory the copy returns once the data is staged, so the
  // host buffer may be refilled right away.
  prefill_inputs_.copy_(prefill_host_, /*non_blocking=*/true);
  // Copied out: the next replay of any graph of the pool overwrites it.
  return prefill_[bucket]->Run().narrow(0, 0, indices.size()).clone();
}

at::Tensor StaticStepRunner::Prefill(const std::vector<StepRow>& rows) {
  if (fused_ != nullptr) return fused_->Prefill(rows);
  // Rows grouped by bucket, at most prefill_rows_ per step.
  std::vector<std::vector<size_t>> by_bucket(bucket_lengths_.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    by_bucket[BucketFor(rows[i].tokens->size())].push_back(i);
  }
  std::vector<at::Tensor> logits(rows.size());
  for (size_t bucket = 0; bucket < by_bucket.size(); ++bucket) {
    const std::vector<size_t>& members = by_bucket[bucket];
    for (size_t begin = 0; begin < members.size(); begin += prefill_rows_) {
      const size_t end =
          std::min(members.size(), begin + size_t(prefill_rows_));
      const std::vector<size_t> group(members.begin() + begin,
                                      members.begin() + end);
      const at::Tensor out = PrefillGroup(rows, group, bucket);  // [n, V]
      for (size_t r = 0; r < group.size(); ++r) {
        logits[group[r]] = out.narrow(0, r, 1);
      }
    }
  }
  return at::cat(logits, 0);  // [B, V] in row order
}

at::Tensor StaticStepRunner::Decode(const std::vector<StepRow>& rows) {
  const int64_t B = rows.size();
  TORCH_CHECK(B <= num_slots_, "decode of ", B, " rows with ", num_slots_,
              " slots");
  if (fused_ != nullptr) return fused_->Decode(rows);
  int64_t* token = decode_host_.data_ptr<int64_t>();
  int64_t* position = token + num_slots_;
  int64_t* write_slot = position + num_slots_;
  int64_t* order = write_slot + num_slots_;
  std::fill(token, token + 2 * num_slots_, 0);
  std::fill(write_slot, write_slot + num_slots_, num_slots_);  // scratch
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    const int64_t slot = rows[b].slot;
    TORCH_CHECK(slot >= 0 && slot < num_slots_, "slot ", slot, " of ",
                num_slots_);
    token[slot] = ids.back();
    position[slot] = int64_t(ids.size()) - 1;
    write_slot[slot] = slot;
    order[b] = slot;
  }
  decode_inputs_.copy_(decode_host_, /*non_blocking=*/true);
  const at::Tensor logits = decode_->Run();  // [S, V]
  return logits.index_select(0, decode_inputs_[3].narrow(0, 0, B));
}

std::vector<SampledToken> StaticStepRunner::DecodeAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  if (fused_ != nullptr) return fused_->DecodeAndSample(rows, samples, top_n);
  return StepRunner::DecodeAndSample(rows, samples, top_n);
}

std::vector<SampledToken> StaticStepRunner::PrefillAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  if (fused_ != nullptr) return fused_->PrefillAndSample(rows, samples, top_n);
  return StepRunner::PrefillAndSample(rows, samples, top_n);
}

void StaticStepRunner::Launch(const std::vector<LaunchRow>& rows) {
  if (fused_ != nullptr) return fused_->Launch(rows);
  StepRunner::Launch(rows);
}

std::vector<SampledToken> StaticStepRunner::Finish() {
  if (fused_ != nullptr) return fused_->Finish();
  return StepRunner::Finish();
}

}  // namespace

std::unique_ptr<StepRunner> MakeStaticStepRunner(Transformer& model,
                                                 int64_t num_slots,
                                                 bool capture_graphs,
                                                 bool fused_decode) {
  return std::make_unique<StaticStepRunner>(model, num_slots, capture_graphs,
                                            fused_decode);
}

}  // namespace tinylm
