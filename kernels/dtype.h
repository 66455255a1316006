// The element types the kernels read and write. Accumulation is always in
// float32; these name the storage type of activations and their gradients.
#ifndef TINYLM_KERNELS_DTYPE_H_
#define TINYLM_KERNELS_DTYPE_H_

namespace tinylm::kernels {

enum class DType {
  kFloat32,
  kBFloat16,
};

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_DTYPE_H_
