// Proves that tinylm_kernels compiles and links with the CUDA runtime:
// takes the address of every launch function, prints the list and, when a
// CUDA device is present, its name. Launches nothing, so it runs (and
// passes) on machines without a GPU.
#include <cuda_runtime.h>

#include <cstdio>

#include "kernels/adamw.h"
#include "kernels/attention_softmax.h"
#include "kernels/cross_entropy.h"
#include "kernels/grad_norm.h"
#include "kernels/qkv_post.h"
#include "kernels/rms_norm.h"
#include "kernels/swiglu.h"

namespace {

struct Entry {
  const char* name;
  const void* function;
};

template <typename F>
const void* Address(F* function) {
  return reinterpret_cast<const void*>(function);
}

}  // namespace

int main() {
  namespace k = tinylm::kernels;
  const Entry entries[] = {
      {"RmsNormForward", Address(&k::RmsNormForward)},
      {"RmsNormBackward", Address(&k::RmsNormBackward)},
      {"QkvPostForward", Address(&k::QkvPostForward)},
      {"QkvPostBackward", Address(&k::QkvPostBackward)},
      {"CausalSoftmaxForward", Address(&k::CausalSoftmaxForward)},
      {"CausalSoftmaxBackward", Address(&k::CausalSoftmaxBackward)},
      {"SwiGluForward", Address(&k::SwiGluForward)},
      {"SwiGluBackward", Address(&k::SwiGluBackward)},
      {"CrossEntropyForward", Address(&k::CrossEntropyForward)},
      {"CrossEntropyBackward", Address(&k::CrossEntropyBackward)},
      {"GradNorm", Address(&k::GradNorm)},
      {"AdamWStep", Address(&k::AdamWStep)},
  };
  int missing = 0;
  for (const Entry& e : entries) {
    std::printf("%-24s %s\n", e.name, e.function ? "linked" : "MISSING");
    missing += e.function == nullptr;
  }
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::printf("no CUDA device (%s): link check only\n",
                cudaGetErrorString(status));
  } else {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      std::printf("device 0: %s, compute capability %d.%d, %d SMs\n", prop.name,
                  prop.major, prop.minor, prop.multiProcessorCount);
    }
  }
  return missing == 0 ? 0 : 1;
}
