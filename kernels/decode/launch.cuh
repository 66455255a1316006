// Host-side kernel launch with optional programmatic dependent launch
// (device_util.cuh says what the kernels do to make it safe). Works inside
// CUDA graph capture: the overlap becomes a programmatic graph edge.
#ifndef TINYLM_KERNELS_DECODE_LAUNCH_CUH_
#define TINYLM_KERNELS_DECODE_LAUNCH_CUH_

#include <utility>

#include <cuda_runtime.h>

namespace tinylm::decode {

template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block,
                         size_t shared_bytes, cudaStream_t stream, bool pdl,
                         Args&&... args) {
  cudaLaunchAttribute attribute;
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_LAUNCH_CUH_
