#!/usr/bin/env bash
# Data parallel on a CUDA host: a one-rank NCCL group (WORLD_SIZE=1 RANK=0,
# as `torchrun --nproc-per-node=1` sets) must train as a run without a
# launch does. Builds tinylm-train against the host's CUDA LibTorch, makes a
# dataset from tests/data/corpus-sample.txt, trains the small model
# $STEPS steps three times (twice without a launch: the run-to-run noise of
# CUDA training itself; once in the group) and compares the loss curves.
# About 3 minutes. Needs .deps/debs (tools/gpu/fetch-debs.sh). From the
# project root, with a directory for the results:
#   bash tools/gpu/dp_check.sh RESULTS_DIR
# RESULTS_DIR gets summary.txt, the three metrics CSVs and logs.tar; the exit
# status is 0 when the group's curve is the plain run's (equal, or no
# farther from it than the two plain runs are from each other).
set -euo pipefail
RESULTS=${1:?usage: tools/gpu/dp_check.sh RESULTS_DIR}
STEPS=${STEPS:-300}
BUILD=/tmp/tinylm-dp-build
WORK=/tmp/tinylm-dp-check
mkdir -p "$RESULTS" $WORK/logs
trap 'tar cf "$RESULTS/logs.tar" -C $WORK logs' EXIT
log() { echo "[$(date +%T)] $*" | tee -a $WORK/logs/check.log; }

source tools/gpu/env.sh > $WORK/logs/env.log 2>&1 || { cat $WORK/logs/env.log; exit 1; }
cat $WORK/logs/env.log
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a $WORK/logs/check.log
# c10d's NCCL backend needs the nccl.h of the NCCL version LibTorch was
# built with (train/process_group.cc checks): that of the NCCL wheel PyTorch
# runs with, or the CUDA toolkit's if it is the same version.
if [ -z "${NCCL_INCLUDE_DIR:-}" ]; then
  want=$(python3 -c 'import torch; print("%d.%d" % torch.cuda.nccl.version()[:2])')
  site=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))')
  for header in $(find $site /usr/local/cuda/include /usr/include -name nccl.h \
                    -path '*include*' 2>/dev/null || true); do
    have=$(awk '/#define NCCL_MAJOR/ {a=$3} /#define NCCL_MINOR/ {b=$3} END {print a "." b}' "$header")
    if [ "$have" = "$want" ]; then export NCCL_INCLUDE_DIR=$(dirname "$header"); break; fi
  done
  log "LibTorch's NCCL: $want"
  [ -n "${NCCL_INCLUDE_DIR:-}" ] \
    || { echo "no nccl.h of NCCL $want here: set NCCL_INCLUDE_DIR"; exit 1; }
fi
log "nccl.h in ${NCCL_INCLUDE_DIR:-(not found)}"

log "configure + build"
cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  -DTINYLM_BUILD_TESTS=OFF > $WORK/logs/cmake.log 2>&1 \
  || { tail -30 $WORK/logs/cmake.log; exit 1; }
grep -q "TINYLM_NCCL_INCLUDE_DIR:PATH=/" $BUILD/CMakeCache.txt \
  || { echo "no nccl.h: set NCCL_INCLUDE_DIR"; exit 1; }
cmake --build $BUILD -j16 --target tinylm-train > $WORK/logs/build.log 2>&1 \
  || { grep -B2 -A12 error $WORK/logs/build.log | head -80; exit 1; }
T=$BUILD/bin/tinylm-train

log "dataset"
$T tokenizer --corpus=tests/data/corpus-sample.txt --out=$WORK/tok \
  --vocab_size=1500 --character_coverage=0.98 > $WORK/logs/tokenizer.log 2>&1
$T prepare --corpus=tests/data/corpus-sample.txt --tokenizer=$WORK/tok/tokenizer.model \
  --out=$WORK/data --val_every=5 | tee -a $WORK/logs/check.log

train() {  # NAME [VAR=VALUE...]: one run of the small model on CUDA
  local name=$1; shift
  rm -rf $WORK/$name
  log "train $name $*"
  env "$@" timeout 180 $T train --data=$WORK/data \
    --tokenizer=$WORK/tok/tokenizer.model --out=$WORK/$name --size=small \
    --device=cuda --batch_size=32 --max_steps=$STEPS --warmup_steps=20 \
    --eval_every=100 --eval_batches=4 --log_every=10 --progress=false \
    > $WORK/logs/$name.out 2> $WORK/logs/$name.err \
    || { tail -20 $WORK/logs/$name.err; exit 1; }
  cat $WORK/logs/$name.out | tee -a $WORK/logs/check.log
  cp $WORK/$name/metrics.csv "$RESULTS/$name.csv"
}
train plain_a
train plain_b
train nccl WORLD_SIZE=1 RANK=0 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 \
  MASTER_PORT=29577 NCCL_DEBUG=INFO
nccl_lines=$(cat $WORK/logs/nccl.out $WORK/logs/nccl.err | grep -c "NCCL INFO" || true)
log "NCCL INFO lines in the group's log: $nccl_lines"
[ "$nccl_lines" -gt 0 ] || { echo "the group run did not use NCCL"; exit 1; }

python3 - "$RESULTS" <<'PY' | tee "$RESULTS/summary.txt"
import csv, sys
out = sys.argv[1]
def load(name):
    return list(csv.DictReader(open(f"{out}/{name}.csv")))
a, b, g = load("plain_a"), load("plain_b"), load("nccl")
def diff(x, y, col):
    pairs = [(float(r[col]), float(s[col])) for r, s in zip(x, y) if r[col] and s[col]]
    assert len(x) == len(y) and all(r["step"] == s["step"] for r, s in zip(x, y))
    return max(abs(p - q) / abs(p) for p, q in pairs)
ok = True
print(f"{len(a)} rows, steps {a[0]['step']}..{a[-1]['step']}, last loss "
      f"{a[-1]['loss']} (plain) {g[-1]['loss']} (group)")
for col in ("loss", "val_loss", "grad_norm"):
    floor, group = diff(a, b, col), diff(a, g, col)
    verdict = ("equal" if group == 0 else
               "within the noise" if group <= 2 * floor else "DIFFERS")
    ok &= verdict != "DIFFERS"
    print(f"{col:9s} max relative difference: plain vs plain {floor:.3e}, "
          f"plain vs group {group:.3e}: {verdict}")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
