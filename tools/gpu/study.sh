#!/usr/bin/env bash
# Trains the shipped checkpoints on a CUDA machine and records everything the
# docs report: the device cross-check, the training-speed benchmark against a
# plain PyTorch loop, and the four-variant study.
#
#   tools/gpu/study.sh RESULTS_DIR [CORPUS_DIR] [TOKENIZER] [SECONDS_PER_VARIANT]
#
# CORPUS_DIR holds the corpus as *.txt.xz (default .cache/corpus: ja-aozora,
# en-gutenberg, en-botchan); TOKENIZER defaults to .cache/tokenizer.model.
# Each variant trains for the same number of steps, chosen so that the base
# variant takes about SECONDS_PER_VARIANT (default 45) at the measured speed.
# SKIP_STUDY=1 stops after the checks and the training-speed benchmark.
set -euo pipefail
RESULTS=$1
CORPUS=${2:-.cache/corpus}
TOKENIZER=${3:-.cache/tokenizer.model}
SECONDS_PER_VARIANT=${4:-45}
BATCH=128
BUILD=/tmp/tinylm-build
WORK=/tmp/tinylm-study
# Small outputs collect in $R and come back as one results.tar, written
# even when a step fails; checkpoints come back as one tar per variant.
R=$WORK/results
mkdir -p "$RESULTS" "$R"
trap 'tar cf "$RESULTS/results.tar" -C "$R" .' EXIT
log() { echo "[$(date +%T)] $*" | tee -a "$R/study.log"; }

source tools/gpu/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv \
  > "$R/gpu.txt"
log "configure + build"
cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  > "$R/cmake.log" 2>&1 || { tail -30 "$R/cmake.log"; exit 1; }
cmake --build $BUILD -j16 --target tinylm-train tinylm-device-check \
  > "$R/build.log" 2>&1 || { grep -B2 -A12 error "$R/build.log" | head -80; exit 1; }
# The model tests (CPU, LibTorch 2.x: includes the fused-attention checks)
# run in the background while the corpus is prepared.
( cmake --build $BUILD -j8 --target model_test > "$R/build_model_test.log" 2>&1 \
  && $BUILD/bin/model_test --gtest_brief=1 > "$R/model_test.txt" 2>&1 \
  ; echo "model_test exit $?" >> "$R/model_test.txt" ) &
TESTS_PID=$!
log "device check, random weights"
$BUILD/bin/tinylm-device-check > "$R/device_check_random.jsonl"

log "prepare"
mkdir -p $WORK/corpus
for f in "$CORPUS"/*.txt.xz; do
  xz -dc "$f" > $WORK/corpus/$(basename "$f" .xz) &
done
wait
$BUILD/bin/tinylm-train prepare --tokenizer="$TOKENIZER" --out=$WORK/data \
  --val_every=${VAL_EVERY:-100} \
  --corpus=$(ls $WORK/corpus/*.txt | paste -sd,) \
  | tee -a "$R/study.log"
cp $WORK/data/dataset.json "$R/"

log "training-speed benchmark"
bench_ours() {  # size batch steps -> tokens/s between step 10 and the end
  rm -rf $WORK/bench
  $BUILD/bin/tinylm-train train --data=$WORK/data --tokenizer="$TOKENIZER" \
    --out=$WORK/bench --size=$1 --batch_size=$2 --max_steps=$3 \
    --warmup_steps=5 --eval_every=1000000 --log_every=10 --progress=false \
    > /dev/null
  python3 - $WORK/bench/metrics.csv $1 $2 <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
a, b = rows[0], rows[-1]
tps = (int(b["tokens"]) - int(a["tokens"])) / (float(b["elapsed_s"]) - float(a["elapsed_s"]))
print(json.dumps({"impl": "tinylm-train", "size": sys.argv[2], "variant": "base",
                  "batch": int(sys.argv[3]), "steps": int(b["step"]) - int(a["step"]),
                  "tokens_per_s": tps}))
PY
}
{
  set +e
  bench_ours small $BATCH 60
  python3 tools/bench/train_pytorch.py --size small --batch $BATCH --steps 50 \
    --data $WORK/data/train.bin
  bench_ours article 16 30
  python3 tools/bench/train_pytorch.py --size article --batch 16 --steps 20 \
    --data $WORK/data/train.bin
  set -e
} 2>&1 | tee "$R/train_bench.jsonl"

if [ "${SKIP_STUDY:-0}" = 1 ]; then  # benchmarks and checks only
  wait $TESTS_PID || true
  tail -3 "$R/model_test.txt"
  log "done (SKIP_STUDY=1)"
  exit 0
fi
TPS=$(grep -m1 '"impl": "tinylm-train"' "$R/train_bench.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
STEPS=$(python3 -c "print(int($SECONDS_PER_VARIANT * $TPS / ($BATCH * 256)) // 100 * 100)")
log "study: $STEPS steps of $BATCH x 256 tokens per variant"
$BUILD/bin/tinylm-train study --data=$WORK/data --tokenizer="$TOKENIZER" \
  --out=$WORK/study --size=small --batch_size=$BATCH --max_steps=$STEPS \
  --warmup_steps=$((STEPS / 20)) --eval_every=$((STEPS / 20)) \
  --log_every=$((STEPS / 100)) --progress=false 2>&1 | tee -a "$R/study.log"

log "device check, trained checkpoints"
$BUILD/bin/tinylm-device-check --checkpoints=$WORK/study/checkpoints \
  > "$R/device_check_trained.jsonl"
(cd $WORK/study && cp --parents study.md study.json samples.md \
  runs/*/metrics.csv runs/*/result.json "$R/")
for v in base qkv_gelu separate_qkv score_fcn; do
  tar cf "$RESULTS/checkpoint-$v.tar" -C $WORK/study/checkpoints $v
done
wait $TESTS_PID || true
tail -3 "$R/model_test.txt"
log "done"
