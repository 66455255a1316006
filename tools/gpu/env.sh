#!/usr/bin/env bash
# Source on the GPU build host, from the project root, after copying .deps/
# there (see fetch-debs.sh): unpacks the packages into /opt/tinylm-deps
# once, and exports TINYLM_GPU_CMAKE_ARGS for a build against the CUDA
# LibTorch inside the host's PyTorch installation:
#   source tools/gpu/env.sh
#   cmake -S . -B build-gpu -G Ninja $TINYLM_GPU_CMAKE_ARGS
D=/opt/tinylm-deps
if [ ! -d $D/usr ]; then
  mkdir -p $D
  for f in .deps/debs/*.deb; do dpkg -x "$f" $D; done
fi
U=$D/usr
export PATH=$U/bin:$PATH
export LD_LIBRARY_PATH=$U/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export LDFLAGS="-L$U/lib/x86_64-linux-gnu ${LDFLAGS:-}"
export PKG_CONFIG_PATH=$U/lib/x86_64-linux-gnu/pkgconfig:$U/share/pkgconfig:${PKG_CONFIG_PATH:-}
TORCH_CMAKE=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export TINYLM_GPU_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=$TORCH_CMAKE;$U;$U/lib/x86_64-linux-gnu/cmake;$U/share/cmake -DProtobuf_PROTOC_EXECUTABLE=$U/bin/protoc -DTORCH_CUDA_ARCH_LIST=9.0"
echo "tinylm gpu env: torch $(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())')"
