#!/usr/bin/env bash
# The CUDA kernels (kernels/) on a CUDA host: builds only the kernel
# library, its LibTorch ops, the kernel tests and the kernel benchmark
# against the host's CUDA LibTorch; runs the tests (every op forward and
# backward against float64 LibTorch), the benchmark, and the small-shape
# tests again under compute-sanitizer (memcheck, racecheck) while time
# allows. Environment, configure and build problems stop it at once with
# the log's tail; failing tests are reported loudly, the benchmark still
# runs, and the exit status is non-zero.
#
# Needs .deps/debs from tools/gpu/fetch-debs.sh (GoogleTest included; older
# .deps trees may keep it in .deps/modeltest-debs). From the project root,
# with a directory for the results:
#   bash tools/gpu/kernels_check.sh RESULTS_DIR
# RESULTS_DIR receives: summary.txt (statuses, per-kernel registers and
# spills), build.log, kernels_test.txt, kernels_test.xml, bench.txt,
# bench.jsonl, sanitizer.txt.
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/kernels_check.sh RESULTS_DIR}
mkdir -p "$RESULTS"
# TINYLM_GPU_BUILD names a build directory that tools/gpu/kernels_all.sh
# has already built (configure and build are then skipped);
# TINYLM_GPU_BUDGET_S is this script's time (default 570 s).
BUILD=${TINYLM_GPU_BUILD:-/tmp/tinylm-kernels-build}
BUDGET=${TINYLM_GPU_BUDGET_S:-570}
SUMMARY=$RESULTS/summary.txt
T0=$(date +%s)
: > "$SUMMARY"
note() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$SUMMARY"; }
fail() {  # fail WHAT [LOG]: stops here
  note "FAILED: $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 60 "$2"
  exit 1
}

note "environment"
[ -d .deps/debs ] || fail ".deps/debs missing: run tools/gpu/fetch-debs.sh here and carry .deps"
source tools/gpu/env.sh > "$RESULTS/build.log" 2>&1 || fail "tools/gpu/env.sh" "$RESULTS/build.log"
for f in .deps/modeltest-debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /opt/tinylm-deps; done
ls /opt/tinylm-deps/usr/lib/*/libgtest.a /usr/lib/*/libgtest.a > /dev/null 2>&1 \
  || fail "GoogleTest missing: tools/gpu/fetch-debs.sh puts libgtest-dev in .deps/debs"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
  --format=csv,noheader 2>&1 | tee -a "$SUMMARY" || fail "nvidia-smi"
TORCH_SEES=$(python3 -c 'import torch; assert torch.cuda.is_available(), "no GPU"; print("torch", torch.__version__)' 2>&1) \
  || fail "PyTorch does not see the GPU: $TORCH_SEES"
note "$TORCH_SEES"

if [ -z "${TINYLM_GPU_BUILD:-}" ]; then
  note "configure"
  cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
    -DTINYLM_CUDA_RESOURCE_USAGE=ON >> "$RESULTS/build.log" 2>&1 \
    || fail "configure" "$RESULTS/build.log"
  grep -q "tinylm: CUDA kernels" "$RESULTS/build.log" \
    || fail "configure: no CUDA compiler found (kernels/ not built)" "$RESULTS/build.log"
  grep -q "LibTorch ops on the CUDA kernels" "$RESULTS/build.log" \
    || fail "configure: no CUDA LibTorch 2.x found (kernels/torch not built)" "$RESULTS/build.log"

  note "build"
  cmake --build $BUILD -j16 --target tinylm-kernels-link-check kernels_test \
    tinylm-kernels-bench >> "$RESULTS/build.log" 2>&1 || {
    grep -B2 -A12 -E "error|FAILED" "$RESULTS/build.log" | head -80
    fail "build"
  }
fi
# ptxas -v: one line per kernel with its registers, stack and spills.
python3 - "$RESULTS/build.log" >> "$SUMMARY" <<'PY'
import re, sys, subprocess
name, props = None, {}
rows = []
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Compiling entry function '(\w+)'", line)
    if m: name = m.group(1)
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m and name: props = dict(stack=m.group(1), spill_st=m.group(2), spill_ld=m.group(3))
    m = re.search(r"Used (\d+) registers", line)
    if m and name:
        rows.append((name, m.group(1), props.get("stack", "?"), props.get("spill_st", "?"), props.get("spill_ld", "?")))
        name = None
seen = set()
try:
    names = subprocess.run(["c++filt"] + [r[0] for r in rows], capture_output=True, text=True).stdout.split("\n")
except OSError:
    names = [r[0] for r in rows]
print("kernel resources (registers, stack bytes, spill store/load bytes):")
for r, n in zip(rows, names):
    key = (n, r[1])
    if key in seen: continue
    seen.add(key)
    n = re.sub(r"tinylm::kernels::(\(anonymous namespace\)::)?", "", n)
    print(f"  {r[1]:>3} regs  stack {r[2]:>3}  spills {r[3]}/{r[4]}  {n[:110]}")
PY

# The disassembly: per kernel, global loads/stores that are 16 bytes wide
# against all of them, and local-memory (spill) instructions.
CUOBJDUMP=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
if [ -x "$CUOBJDUMP" ]; then
  "$CUOBJDUMP" -sass $BUILD/kernels/libtinylm_kernels.a > /tmp/tinylm-kernels.sass 2>&1
  python3 - /tmp/tinylm-kernels.sass >> "$SUMMARY" <<'PY'
import re, subprocess, sys
counts, name = {}, None
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Function : (\S+)", line)
    if m:
        name = m.group(1)
        counts[name] = dict(ldg=0, ldg128=0, stg=0, stg128=0, local=0)
        continue
    if name is None: continue
    c = counts[name]
    if re.search(r"\bLDG\.", line):
        c["ldg"] += 1; c["ldg128"] += ".128" in line
    if re.search(r"\bSTG\.", line):
        c["stg"] += 1; c["stg128"] += ".128" in line
    if re.search(r"\b(LDL|STL)\b", line): c["local"] += 1
names = list(counts)
try:
    pretty = subprocess.run(["c++filt"] + names, capture_output=True, text=True).stdout.split("\n")
except OSError:
    pretty = names
print("kernel SASS (16-byte/all global loads, 16-byte/all stores, local-memory ops):")
for n, p in zip(names, pretty):
    c = counts[n]
    p = re.sub(r"tinylm::kernels::(\(anonymous namespace\)::)?", "", p)
    print(f"  ldg {c['ldg128']:>2}/{c['ldg']:<3} stg {c['stg128']:>2}/{c['stg']:<3} local {c['local']:<2} {p[:100]}")
PY
else
  note "cuobjdump not found: no disassembly summary"
fi

note "link check"
$BUILD/bin/tinylm-kernels-link-check > "$RESULTS/kernels_test.txt" 2>&1 \
  || fail "link check" "$RESULTS/kernels_test.txt"
tail -1 "$RESULTS/kernels_test.txt" | tee -a "$SUMMARY"

note "tests"
$BUILD/bin/kernels_test --gtest_output=xml:"$RESULTS/kernels_test.xml" \
  >> "$RESULTS/kernels_test.txt" 2>&1
TESTS=$?
# Failed comparisons ([kernels] ... FAIL, with their errors) and gtest's
# verdicts.
grep -E "FAIL|\[  (PASSED|FAILED|SKIPPED) " "$RESULTS/kernels_test.txt" | head -60 | tee -a "$SUMMARY"
note "tests exit $TESTS: $(grep -c ' ok$' "$RESULTS/kernels_test.txt") comparisons ok, $(grep -c ' FAIL$' "$RESULTS/kernels_test.txt") failed"

note "benchmark"
timeout $(( BUDGET / 2 )) $BUILD/bin/tinylm-kernels-bench "$RESULTS/bench.jsonl" > "$RESULTS/bench.txt" 2>&1
BENCH=$?
sed -n '/^ceilings:/,$p' "$RESULTS/bench.txt" | tee -a "$SUMMARY"
[ $BENCH -eq 0 ] || { tail -20 "$RESULTS/bench.txt"; note "FAILED: benchmark exit $BENCH"; }

# compute-sanitizer on the small shapes only (TINYLM_KERNELS_TEST_SHAPES),
# each tensor its own allocation so that reads past it are caught (which
# rules out the CUDA graph test: capture needs the caching allocator).
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
: > "$RESULTS/sanitizer.txt"
SANITIZED=0
for tool in memcheck racecheck; do
  if [ $(( $(date +%s) - T0 )) -gt $(( BUDGET - 150 )) ]; then
    note "compute-sanitizer $tool skipped: out of time"
    continue
  fi
  if [ ! -x "$SANITIZER" ]; then
    note "compute-sanitizer not found: skipped"
    break
  fi
  note "compute-sanitizer $tool (small shapes)"
  echo "== $tool" >> "$RESULTS/sanitizer.txt"
  TINYLM_KERNELS_TEST_SHAPES=small PYTORCH_NO_CUDA_MEMORY_CACHING=1 \
    timeout 150 "$SANITIZER" --tool $tool --error-exitcode 3 \
    $BUILD/bin/kernels_test --gtest_brief=1 --gtest_filter=-CudaGraphTest.* \
    >> "$RESULTS/sanitizer.txt" 2>&1
  rc=$?
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|hazard" "$RESULTS/sanitizer.txt" | tail -5 | tee -a "$SUMMARY"
  case $rc in
    0) note "compute-sanitizer $tool: clean" ;;
    3) note "FAILED: compute-sanitizer $tool found errors (sanitizer.txt)" ;;
    124) note "compute-sanitizer $tool: timed out (not a finding)" ;;
    *) note "FAILED: tests under compute-sanitizer $tool exit $rc" ;;
  esac
  [ $rc -eq 0 ] || [ $rc -eq 124 ] || SANITIZED=$rc
done

note "done: tests exit $TESTS, benchmark exit $BENCH, sanitizer exit $SANITIZED"
[ $TESTS -eq 0 ] && [ $BENCH -eq 0 ] && [ $SANITIZED -eq 0 ]
