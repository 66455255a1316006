// The static StepRunner (step_runner.h): fixed shapes over preallocated
// buffers, each step a CapturedStep (a CUDA graph where available).
#include <algorithm>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "server/engine/step_graph.h"
#include "server/engine/step_runner.h"

namespace tinylm {
namespace {

constexpr int64_t kSmallestBucket = 16;

class StaticStepRunner : public StepRunner {
 public:
  StaticStepRunner(Transformer& model, KvCache& cache, bool capture_graphs);

  at::Tensor Prefill(const std::vector<StepRow>& rows) override;
  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  int64_t decode_graph_kernels() const override {
    return decode_->kernel_count();
  }

 private:
  // Logits [1, V] after one row's prompt, prefilled alone.
  at::Tensor PrefillOne(const StepRow& row);
  // The smallest bucket that holds `length` tokens.
  size_t BucketFor(int64_t length) const;

  Transformer& model_;
  KvCache& cache_;
  const int64_t num_slots_, max_len_;
  GraphPool pool_;

  // Decode inputs, one upload per step: [4, S] int64 over the S servable
  // slots. Row 0: the token fed to each slot; row 1: its position; row 2:
  // where its key and value go: the slot itself, or for a slot not in the
  // batch the scratch slot (the cache's last), which nothing reads; row 3
  // (first B entries): the slots of the requested rows in order.
  at::Tensor decode_host_, decode_inputs_;
  std::unique_ptr<CapturedStep> decode_;

  // Prefill inputs: [1 + max_len] int64, the slot and then the prompt,
  // zero-padded. Padding writes keys past the prompt that the prompt's own
  // tokens never see and decoding overwrites before it reads them.
  at::Tensor prefill_host_, prefill_inputs_;
  at::Tensor positions_;  // [1, max_len] int64 0..max_len-1 on the device
  std::vector<int64_t> bucket_lengths_;
  std::vector<std::unique_ptr<CapturedStep>> prefill_;  // one per bucket
};

StaticStepRunner::StaticStepRunner(Transformer& model, KvCache& cache,
                                   bool capture_graphs)
    : model_(model),
      cache_(cache),
      num_slots_(cache.num_slots() - 1),
      max_len_(cache.max_len()),
      pool_(cache.keys(0).device(), capture_graphs) {
  const c10::Device device = cache.keys(0).device();
  const auto on_device = at::TensorOptions().dtype(at::kLong).device(device);
  TORCH_CHECK(num_slots_ > 0, "static steps need a cache of 2+ slots");
  decode_host_ = at::zeros({4, num_slots_}, at::kLong);
  decode_inputs_ = at::zeros({4, num_slots_}, on_device);
  prefill_host_ = at::zeros({1 + max_len_}, at::kLong);
  prefill_inputs_ = at::zeros({1 + max_len_}, on_device);
  positions_ = at::arange(max_len_, on_device).view({1, max_len_});

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
        return model_->Forward(input).logits.select(1, 0);  // [S, V]
      },
      pool_);

  for (int64_t T = kSmallestBucket;; T *= 2) {
    T = std::min(T, max_len_);
    bucket_lengths_.push_back(T);
    prefill_.push_back(std::make_unique<CapturedStep>(
        [this, T] {
          ForwardInput input;
          input.tokens = prefill_inputs_.narrow(0, 1, T).view({1, T});
          input.positions = positions_.narrow(1, 0, T);
          input.cache = &cache_;
          input.slot_rows = prefill_inputs_.narrow(0, 0, 1);
          input.kv_length = T;
          input.fused_attention = true;
          return model_->Forward(input).logits;  // [1, T, V]
        },
        pool_));
    if (T == max_len_) break;
  }
}

size_t StaticStepRunner::BucketFor(int64_t length) const {
  TORCH_CHECK(length > 0 && length <= max_len_, "prompt of ", length,
              " tokens for a cache of ", max_len_, " positions");
  size_t bucket = 0;
  while (bucket_lengths_[bucket] < length) ++bucket;
  return bucket;
}

at::Tensor StaticStepRunner::PrefillOne(const StepRow& row) {
  const std::vector<int64_t>& ids = *row.tokens;
  const int64_t n = ids.size();
  const size_t bucket = BucketFor(n);
  int64_t* host = prefill_host_.data_ptr<int64_t>();
  host[0] = row.slot;
  std::copy(ids.begin(), ids.end(), host + 1);
  std::fill(host + 1 + n, host + 1 + bucket_lengths_[bucket], 0);
  // From pageable memory the copy returns once the data is staged, so the
  // host buffer may be refilled right away.
  prefill_inputs_.copy_(prefill_host_, /*non_blocking=*/true);
  // Copied out: the next replay of any graph of the pool overwrites it.
  return prefill_[bucket]->Run().select(1, n - 1).clone();  // [1, V]
}

at::Tensor StaticStepRunner::Prefill(const std::vector<StepRow>& rows) {
  std::vector<at::Tensor> logits;
  logits.reserve(rows.size());
  for (const StepRow& row : rows) logits.push_back(PrefillOne(row));
  return at::cat(logits, 0);  // [B, V]
}

at::Tensor StaticStepRunner::Decode(const std::vector<StepRow>& rows) {
  const int64_t B = rows.size();
  TORCH_CHECK(B <= num_slots_, "decode of ", B, " rows with ", num_slots_,
              " slots");
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

}  // namespace

std::unique_ptr<StepRunner> MakeStaticStepRunner(Transformer& model,
                                                 KvCache& cache,
                                                 bool capture_graphs) {
  return std::make_unique<StaticStepRunner>(model, cache, capture_graphs);
}

}  // namespace tinylm
