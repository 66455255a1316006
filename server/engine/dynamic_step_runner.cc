// The dynamic StepRunner (step_runner.h): shapes follow the batch.
#include <algorithm>

#include <ATen/ATen.h>

#include "server/engine/step_runner.h"

namespace tinylm {
namespace {

std::vector<int64_t> Slots(const std::vector<StepRow>& rows) {
  std::vector<int64_t> slots;
  for (const StepRow& row : rows) slots.push_back(row.slot);
  return slots;
}

class DynamicStepRunner : public StepRunner {
 public:
  DynamicStepRunner(Transformer& model, int64_t num_slots)
      : model_(model),
        cache_(model->config(), num_slots, model->config().block_size,
               model->parameters().front().device(),
               model->parameters().front().scalar_type()) {}

  at::Tensor Prefill(const std::vector<StepRow>& rows) override;
  at::Tensor Decode(const std::vector<StepRow>& rows) override;
  std::string Describe() const override {
    return "dynamic shapes, eager; " + DescribeCache(cache_);
  }

 private:
  Transformer& model_;
  KvCache cache_;
};

at::Tensor DynamicStepRunner::Prefill(const std::vector<StepRow>& rows) {
  const int64_t B = rows.size();
  int64_t T = 0;
  for (const StepRow& row : rows) T = std::max<int64_t>(T, row.tokens->size());
  // Host-side [B, T] tokens; padding (0) sits after each row's end, where
  // the row's real tokens never look and later tokens overwrite the cache.
  at::Tensor tokens = at::zeros({B, T}, at::kLong);
  std::vector<int64_t> last(B);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    std::copy(ids.begin(), ids.end(), tokens[b].data_ptr<int64_t>());
    last[b] = int64_t(ids.size()) - 1;
  }
  const c10::Device device = cache_.keys(0).device();
  ForwardInput input;
  input.tokens = tokens.to(device);
  input.positions = at::arange(T, input.tokens.options())
                        .unsqueeze(0)
                        .expand({B, T});
  input.cache = &cache_;
  input.slots = Slots(rows);
  input.kv_length = T;
  const at::Tensor logits = model_->Forward(input).logits;  // [B, T, V]
  const at::Tensor rows_index = at::arange(B, input.tokens.options());
  const at::Tensor last_index = at::tensor(last, at::kLong).to(device);
  return logits.index({rows_index, last_index}).to(at::kFloat);  // [B, V]
}

at::Tensor DynamicStepRunner::Decode(const std::vector<StepRow>& rows) {
  const int64_t B = rows.size();
  std::vector<int64_t> tokens(B), positions(B);
  int64_t kv_length = 0;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t>& ids = *rows[b].tokens;
    tokens[b] = ids.back();
    positions[b] = int64_t(ids.size()) - 1;
    kv_length = std::max<int64_t>(kv_length, ids.size());
  }
  const c10::Device device = cache_.keys(0).device();
  ForwardInput input;
  input.tokens = at::tensor(tokens, at::kLong).view({B, 1}).to(device);
  input.positions = at::tensor(positions, at::kLong).view({B, 1}).to(device);
  input.cache = &cache_;
  input.slots = Slots(rows);
  input.kv_length = kv_length;
  return model_->Forward(input).logits.select(1, 0).to(at::kFloat);  // [B, V]
}

}  // namespace

std::unique_ptr<StepRunner> MakeDynamicStepRunner(Transformer& model,
                                                  int64_t num_slots) {
  return std::make_unique<DynamicStepRunner>(model, num_slots);
}

}  // namespace tinylm
