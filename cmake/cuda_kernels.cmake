# Whether to build the CUDA kernel library (kernels/). It is plain CUDA C++
# without Torch, so it builds wherever nvcc is, also beside a CPU-only
# LibTorch (CI compiles and links it there; nothing runs it without a GPU).
#   -DTINYLM_CUDA_KERNELS=AUTO  (default) when CMake finds a CUDA compiler
#   -DTINYLM_CUDA_KERNELS=ON    require one
#   -DTINYLM_CUDA_KERNELS=OFF   never
# Sets TINYLM_WITH_CUDA_KERNELS. Sanitizer and fuzzing builds skip it in
# AUTO mode: their flags are for the host compiler and do not reach device
# code.
set(TINYLM_CUDA_KERNELS AUTO CACHE STRING
  "Build the CUDA kernels: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE TINYLM_CUDA_KERNELS PROPERTY STRINGS AUTO ON OFF)

set(TINYLM_WITH_CUDA_KERNELS OFF)
if(TINYLM_CUDA_KERNELS STREQUAL "AUTO")
  if(NOT TINYLM_FUZZ AND NOT TINYLM_SANITIZE)
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      set(TINYLM_WITH_CUDA_KERNELS ON)
    endif()
  endif()
elseif(TINYLM_CUDA_KERNELS)
  set(TINYLM_WITH_CUDA_KERNELS ON)
endif()

if(TINYLM_WITH_CUDA_KERNELS)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  if(CCACHE_PROGRAM)
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  endif()
  message(STATUS "tinylm: CUDA kernels (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")
endif()
