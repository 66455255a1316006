// Training and evaluation batches cut from a token file.
//
// A training batch is a pure function of (seed, step, micro-step): windows
// start at offsets drawn from a generator seeded by those three numbers, so
// a resumed run reads exactly the batches an uninterrupted one would.
// Evaluation uses fixed, evenly spaced windows so every evaluation of every
// variant sees the same tokens.
#ifndef TINYLM_TRAIN_BATCHER_H_
#define TINYLM_TRAIN_BATCHER_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tinylm {

struct Batch {
  at::Tensor inputs;   // [B, T] int64, CPU
  at::Tensor targets;  // [B, T] int64, CPU: inputs shifted by one
};

class TokenBatcher {
 public:
  // `tokens` must hold more than `block_size` tokens (checked by Create).
  TokenBatcher(std::vector<uint16_t> tokens, int64_t block_size);

  int64_t num_tokens() const { return tokens_.size(); }
  int64_t block_size() const { return block_size_; }

  Batch Sample(uint64_t seed, int64_t step, int64_t micro_step,
               int64_t batch_size) const;
  // Evaluation batch `index` of `count`, each of `batch_size` windows spread
  // evenly over the whole file.
  Batch Evaluation(int64_t index, int64_t count, int64_t batch_size) const;

 private:
  Batch Gather(const std::vector<int64_t>& starts) const;

  std::vector<uint16_t> tokens_;
  int64_t block_size_;
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_BATCHER_H_
