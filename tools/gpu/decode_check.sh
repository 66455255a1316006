#!/usr/bin/env bash
# The fused decode step (kernels/decode/) on a CUDA host, in one run:
#   1. builds tinylm_decode_kernels, its GPU tests and tinylm-decode-bench
#      against the host's CUDA LibTorch (nothing else of the project);
#   2. prints each kernel's registers, spills and shared memory (ptxas -v)
#      and what the SASS holds (tensor-core HMMA, 16-byte loads, local
#      memory);
#   3. runs the kernel tests, then the whole-step tests (both print one
#      CHECK line per comparison with its error and tolerance);
#   4. runs the benchmark (table and JSON lines);
#   5. runs compute-sanitizer's memcheck over the attention tests and the
#      smallest whole-step case, in what time is left.
# Every step runs even when an earlier test fails; the script exits
# non-zero when any failed. Needs .deps/debs from tools/gpu/fetch-debs.sh
# (which includes GoogleTest). Run from the project root:
#   bash tools/gpu/decode_check.sh LOG_DIR
set -uo pipefail
LOG_DIR=${1:?usage: tools/gpu/decode_check.sh LOG_DIR}
mkdir -p "$LOG_DIR"
# TINYLM_GPU_BUILD names a build directory that tools/gpu/kernels_all.sh
# has already built (then steps 1's configure and build are skipped);
# TINYLM_GPU_BUDGET_S is this script's time (default 570 s).
BUILD=${TINYLM_GPU_BUILD:-/tmp/tinylm-decode-build}
BUDGET=${TINYLM_GPU_BUDGET_S:-570}
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
# Seconds left of a 9.5-minute budget, less a reserve kept for later steps
# (at least 10: `timeout 0` would never stop).
left() {
  local s=$(( BUDGET - ($(date +%s) - T0) - ${1:-0} ))
  [ $s -lt 10 ] && s=10
  echo $s
}
die() { echo "DECODE CHECK FAILED: $*"; exit 1; }
failures=()

# 1. Build.
source tools/gpu/env.sh > "$LOG_DIR/build.log" 2>&1 || { cat "$LOG_DIR/build.log"; die "tools/gpu/env.sh"; }
ls /opt/tinylm-deps/usr/lib/x86_64-linux-gnu/libgtest.a > /dev/null 2>&1 ||
  die "no GoogleTest in .deps/debs: run tools/gpu/fetch-debs.sh again"
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
if [ -z "${TINYLM_GPU_BUILD:-}" ]; then
  say "configure"
  cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
    -DTINYLM_CUDA_RESOURCE_USAGE=ON >> "$LOG_DIR/build.log" 2>&1 ||
    { tail -40 "$LOG_DIR/build.log"; die "cmake configure"; }
  say "build"
  cmake --build $BUILD -j16 --target tinylm_decode_kernels decode_kernels_test \
    decode_sampling_test decode_step_test tinylm-decode-bench >> "$LOG_DIR/build.log" 2>&1 ||
    { grep -B2 -A12 -E "error|Error" "$LOG_DIR/build.log" | head -80; die "build"; }
fi
BIN=$BUILD/bin

# 2. Resources and SASS.
python3 - "$LOG_DIR/build.log" > "$LOG_DIR/resources.txt" <<'PY'
import re, subprocess, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
rows, name, spill = [], None, ""
for line in lines:
    m = re.search(r"Compiling entry function '([^']+)'", line)
    if m:
        name = subprocess.run(["c++filt", m.group(1)], capture_output=True,
                              text=True).stdout.strip()
        name = re.sub(r"tinylm::decode::(\(anonymous namespace\)::)?", "", name)
        name = re.sub(r"\(.*", "", name)
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores", line)
    if m: spill = f"stack {m.group(1)} B, spill {m.group(2)} B"
    m = re.search(r"Used (\d+) registers.*?(\d+ bytes smem)?$", line)
    if m and name:
        rows.append(f"{name:<40} {m.group(1):>4} registers  {spill}  {m.group(2) or ''}")
        name = None
print("\n".join(sorted(set(rows))))
PY
cat "$LOG_DIR/resources.txt"
if command -v cuobjdump > /dev/null; then
  cuobjdump --dump-sass $BUILD/kernels/decode/libtinylm_decode_kernels.a > /tmp/decode.sass 2>&1
  echo "SASS: $(grep -c HMMA /tmp/decode.sass) HMMA, $(grep -cE 'LDG\.E[.A-Z]*\.128' /tmp/decode.sass) 16-byte global loads, $(grep -cE '\b(LDL|STL)' /tmp/decode.sass) local-memory accesses" | tee -a "$LOG_DIR/resources.txt"
fi

# 3. Tests, one process per suite so that a crash or a hang costs one
#    suite only; every CHECK line carries an error and its tolerance.
run_suite() {  # log seconds binary filter; keeps 2 minutes for the benchmark
  local log=$1 seconds=$2 binary=$3 filter=$4
  local budget
  budget=$(left 120)
  [ "$budget" -lt "$seconds" ] && seconds=$budget
  say "$filter"
  timeout "$seconds" $BIN/$binary --gtest_filter="$filter" >> "$LOG_DIR/$log.txt" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || failures+=("$filter (exit $rc)")
  echo "  exit $rc"
}
: > "$LOG_DIR/kernels_test.txt"
: > "$LOG_DIR/step_test.txt"
run_suite kernels_test 120 decode_kernels_test 'SkinnyGemm.*'
run_suite kernels_test 60 decode_kernels_test 'AttentionInput.*'
run_suite kernels_test 60 decode_kernels_test 'DecodeAttention.*'
run_suite kernels_test 60 decode_sampling_test 'Sampling.*'
run_suite step_test 180 decode_step_test 'AllVariants/StepVsForward.*'
run_suite step_test 90 decode_step_test 'RealSizes/BatchInvariance.*'
run_suite step_test 30 decode_step_test 'FusedDecoderMaps.*'
for log in kernels_test step_test; do
  grep -E "^CHECK|^\[  FAILED|Failure|error:" "$LOG_DIR/$log.txt" | grep -vE "^CHECK.* ok$" | head -60
  echo "$log: $(grep -c '^CHECK.* ok$' "$LOG_DIR/$log.txt") checks ok, $(grep -c '^CHECK.*FAIL' "$LOG_DIR/$log.txt") checks failed; $(grep -c '^\[       OK' "$LOG_DIR/$log.txt") tests passed"
done

# 4. Benchmark.
say "benchmark"
timeout "$(left 20)" $BIN/tinylm-decode-bench --json="$LOG_DIR/bench.jsonl" 2>&1 |
  tee "$LOG_DIR/bench.txt" || failures+=("benchmark")

# 5. Memory checker, in the time left: the attention kernels and the
#    sampler, then the smallest whole-step case (every kernel of the step).
if command -v compute-sanitizer > /dev/null && [ "$(left)" -gt 40 ]; then
  say "memcheck ($(left) s)"
  : > "$LOG_DIR/memcheck.txt"
  for filter in 'DecodeAttention.*:AttentionInput.*' 'Sampling.*' \
                'AllVariants/StepVsForward.*/gqa_4_2_hs16_score_fcn'; do
    binary=decode_kernels_test
    case $filter in
      Sampling*) binary=decode_sampling_test ;;
      AllVariants*) binary=decode_step_test ;;
    esac
    timeout $(( $(left) / 3 )) compute-sanitizer --tool memcheck --print-limit 20 \
      $BIN/$binary --gtest_filter="$filter" >> "$LOG_DIR/memcheck.txt" 2>&1
    rc=$?
    echo "  memcheck $filter: exit $rc (124: out of time)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || failures+=("memcheck $filter")
  done
  grep -E "ERROR SUMMARY|Invalid|out of bounds" "$LOG_DIR/memcheck.txt" | head -20
fi

say "done"
if [ ${#failures[@]} -gt 0 ]; then die "${failures[*]}"; fi
echo "DECODE CHECK PASSED"
