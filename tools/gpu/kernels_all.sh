#!/usr/bin/env bash
# Every CUDA kernel of kernels/ on a CUDA host in one run, built once:
# configures and builds the training kernels and the fused decode step with
# their LibTorch layers, tests and benchmarks (nothing else of the project),
# then runs tools/gpu/kernels_check.sh and tools/gpu/decode_check.sh on that
# build, each within its share of the time. Results, logs included, go into
# RESULTS_DIR/results.tgz (one file); summaries are printed.
#   bash tools/gpu/kernels_all.sh RESULTS_DIR [TOTAL_SECONDS]
# Needs .deps/debs from tools/gpu/fetch-debs.sh.
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/kernels_all.sh RESULTS_DIR [TOTAL_SECONDS]}
TOTAL=${2:-570}
WORK=/tmp/tinylm-kernels-all
BUILD=/tmp/tinylm-gpu-build
T0=$(date +%s)
rm -rf "$WORK"; mkdir -p "$WORK/kernels" "$WORK/decode" "$RESULTS"
say() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
pack() { tar -czf "$RESULTS/results.tgz" -C "$WORK" . ; }
trap pack EXIT

source tools/gpu/env.sh > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
say "configure"
cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  -DTINYLM_CUDA_RESOURCE_USAGE=ON >> "$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; exit 1; }
say "build"
cmake --build $BUILD -j16 --target tinylm-kernels-link-check kernels_test \
  tinylm-kernels-bench decode_kernels_test decode_step_test \
  tinylm-decode-bench >> "$WORK/build.log" 2>&1 || {
  grep -B2 -A12 -E "error|FAILED" "$WORK/build.log" | head -80
  exit 1
}
cp "$WORK/build.log" "$WORK/kernels/build.log"
cp "$WORK/build.log" "$WORK/decode/build.log"
left=$(( TOTAL - ($(date +%s) - T0) ))
say "built; $left s left"

say "training kernels"
TINYLM_GPU_BUILD=$BUILD TINYLM_GPU_BUDGET_S=$(( left / 2 )) \
  bash tools/gpu/kernels_check.sh "$WORK/kernels" > "$WORK/kernels/run.log" 2>&1
KERNELS=$?
say "decode kernels"
TINYLM_GPU_BUILD=$BUILD \
  TINYLM_GPU_BUDGET_S=$(( TOTAL - ($(date +%s) - T0) - 15 )) \
  bash tools/gpu/decode_check.sh "$WORK/decode" > "$WORK/decode/run.log" 2>&1
DECODE=$?

echo "===== training kernels (exit $KERNELS)"
cat "$WORK/kernels/summary.txt"
echo "===== decode (exit $DECODE)"
grep -vE "^CHECK.* ok$" "$WORK/decode/run.log" | tail -80
say "done: training kernels exit $KERNELS, decode exit $DECODE"
[ $KERNELS -eq 0 ] && [ $DECODE -eq 0 ]
