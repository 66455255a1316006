# Whether to build the CUDA kernel library (kernels/): plain CUDA C++
# without Torch, so it builds wherever nvcc is, also beside a CPU-only
# LibTorch (CI compiles and links it there; nothing runs it without a GPU).
# -DTINYLM_CUDA_KERNELS=OFF skips it. Sanitizer and fuzzing builds skip it
# too: their flags are the host compiler's and do not reach device code.
# Sets TINYLM_WITH_CUDA_KERNELS.
option(TINYLM_CUDA_KERNELS "Build kernels/ when a CUDA compiler is found" ON)

set(TINYLM_WITH_CUDA_KERNELS OFF)
if(TINYLM_CUDA_KERNELS AND NOT TINYLM_SANITIZE AND NOT TINYLM_FUZZ)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    if(CCACHE_PROGRAM)
      set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
    endif()
    set(TINYLM_WITH_CUDA_KERNELS ON)
    message(STATUS "tinylm: CUDA kernels (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")
  endif()
endif()
