// Host-side kernel launch with optional programmatic dependent launch
// (device_util.cuh says what the kernels do to make it safe). Works inside
// CUDA graph capture: the overlap becomes a programmatic graph edge.
#ifndef TINYLM_KERNELS_DECODE_LAUNCH_CUH_
#define TINYLM_KERNELS_DECODE_LAUNCH_CUH_

#include <utility>

#include <cuda_runtime.h>

namespace tinylm::decode {

// The current device's multiprocessors (132 when it cannot be read), read
// once: the launchers size their grids by it.
inline int MultiprocessorCount() {
  static const int count = [] {
    int device = 0, sms = 132;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) !=
            cudaSuccess) {
      return 132;
    }
    return sms;
  }();
  return count;
}

// `cluster_x` > 0: blocks in thread-block clusters of that many along x
// (gridDim.x a multiple of it); 0 for none.
template <typename... Params, typename... Args>
cudaError_t LaunchClusterKernel(void (*kernel)(Params...), dim3 grid,
                                dim3 block, unsigned cluster_x,
                                size_t shared_bytes, cudaStream_t stream,
                                bool pdl, Args&&... args) {
  cudaLaunchAttribute attributes[2];
  unsigned count = 0;
  if (pdl) {
    attributes[count].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attributes[count].val.programmaticStreamSerializationAllowed = 1;
    ++count;
  }
  if (cluster_x > 0) {
    attributes[count].id = cudaLaunchAttributeClusterDimension;
    attributes[count].val.clusterDim.x = cluster_x;
    attributes[count].val.clusterDim.y = 1;
    attributes[count].val.clusterDim.z = 1;
    ++count;
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = attributes;
  config.numAttrs = count;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block,
                         size_t shared_bytes, cudaStream_t stream, bool pdl,
                         Args&&... args) {
  return LaunchClusterKernel(kernel, grid, block, 0, shared_bytes, stream, pdl,
                             std::forward<Args>(args)...);
}

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_LAUNCH_CUH_
