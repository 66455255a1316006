// The weight layouts of the fused decode kernels, made once at load from a
// tinylm::Transformer's LibTorch parameters (on their device):
//   attention input  q | k | v | score rows of one [attention_width, C]
//                    weight (and bias), q heads and k groups with their RoPE
//                    pairs (i, i + hs/2) moved to rows (2i, 2i + 1)
//   MLP input        fc_1 and fc_2 interleaved row by row, [2I, C]
// See skinny_gemm.h for how the kernels read them.
#ifndef TINYLM_KERNELS_DECODE_WEIGHT_PACKING_H_
#define TINYLM_KERNELS_DECODE_WEIGHT_PACKING_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace tinylm::decode {

// [heads·hs] int64 on `device`: row r of a packed q (or k) weight is row
// order[r] of the model's. Per head, order[2i] = i and order[2i + 1] =
// i + hs/2.
at::Tensor RopePairOrder(int64_t heads, int64_t head_size, c10::Device device);

// q [H·hs, ...], k and v [G·hs, ...], score [H·block_size, ...] or
// undefined: the packed rows, for weights [rows, C] and biases [rows] alike.
at::Tensor PackAttentionInput(const at::Tensor& q, const at::Tensor& k,
                              const at::Tensor& v, const at::Tensor& score,
                              int64_t heads, int64_t groups, int64_t head_size);

// a, b: [n, C] -> [2n, C] with a's row j at 2j and b's at 2j + 1.
at::Tensor InterleaveRows(const at::Tensor& a, const at::Tensor& b);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_WEIGHT_PACKING_H_
