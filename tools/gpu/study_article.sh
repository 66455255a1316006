#!/usr/bin/env bash
# The article's study at the article's scale on a CUDA host, and the seed
# study at the shipped size, in calls of bounded length: every call builds
# what is missing, continues the runs where the last call stopped
# (`study --resume`) until its time is up, and leaves everything small that
# exists so far in RESULTS_DIR/results.tgz. Call it again until the log says
# "all done".
#
#   bash tools/gpu/study_article.sh RESULTS_DIR [CORPUS_DIR] [TOKENIZER]
#
# CORPUS_DIR holds the corpus as *.txt.xz (default .cache/corpus: ja-aozora,
# en-gutenberg, en-botchan, see docs/training.md); TOKENIZER defaults to the
# shipped checkpoints' tokenizer. In order:
#   1. article: all four variants at --size=article, 2 epochs of the corpus
#      (4280 steps of 16 x 1024 tokens), seed 1337;
#   2. seeds: the shipped size and budget (docs/training.md) with seeds
#      1337, 1338, 1339;
#   3. article-seed2: base and qkv_gelu at the article size, seed 1338.
# Knobs: TIME_BUDGET_S (540) for this call; WORK_DIR (/tmp/tinylm-study-
# article), which must survive between calls; BUILD_DIR (/tmp/tinylm-gpu-
# build, shared with train_bench.sh).
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/study_article.sh RESULTS_DIR [CORPUS_DIR] [TOKENIZER]}
CORPUS=${2:-.cache/corpus}
TOKENIZER=$(realpath "${3:-models/checkpoints/base/tokenizer.model}")
DEADLINE=$(( $(date +%s) + ${TIME_BUDGET_S:-540} ))
W=${WORK_DIR:-/tmp/tinylm-study-article}
BUILD=${BUILD_DIR:-/tmp/tinylm-gpu-build}
R=$W/results
mkdir -p "$RESULTS" "$R"
RESULTS=$(realpath "$RESULTS")
# The small outputs of every study so far; checkpoints stay on the host.
collect() {
  for s in "$W"/studies/*/; do
    [ -d "$s" ] || continue
    local name=$(basename "$s")
    mkdir -p "$R/$name"
    (cd "$s" && cp --parents -t "$R/$name" runs/*/metrics.csv \
      runs/*/result.json study.md study.json samples.md attention_stats.md \
      attention_stats.json attention_maps.json loss_curves.png 2>/dev/null)
  done
  tar -czf "$RESULTS/results.tgz" -C "$R" .
}
trap 'wait; collect' EXIT
log() { echo "[$(date +%T)] $*" | tee -a "$R/study.log"; }
left() { echo $(( DEADLINE - $(date +%s) )); }

source tools/gpu/env.sh > "$R/env.log" 2>&1 || { cat "$R/env.log"; exit 1; }
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  > "$R/gpu.txt"
log "build"
cmake -S . -B "$BUILD" -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  > "$R/build.log" 2>&1 &&
  cmake --build "$BUILD" -j16 --target tinylm-train >> "$R/build.log" 2>&1 ||
  { grep -B2 -A12 -E "error|FAILED" "$R/build.log" | head -80; exit 1; }
TRAIN=$BUILD/bin/tinylm-train
# The model and training tests (CPU, against this host's LibTorch) run
# beside the first call's training; later calls skip them.
if [ ! -f "$R/tests.txt" ]; then
  ( cmake --build "$BUILD" -j8 --target model_test train_test \
      > "$R/build_tests.log" 2>&1 &&
    for t in model_test train_test; do
      timeout 300 "$BUILD/bin/$t" --gtest_brief=1; echo "$t exit $?"
    done > "$R/tests.txt" 2>&1 ) &
fi

if [ ! -f "$W/data/train.bin" ]; then
  log "prepare"
  mkdir -p "$W/corpus"
  for f in "$CORPUS"/*.txt.xz; do xz -dc "$f" > "$W/corpus/$(basename "$f" .xz)"; done
  $TRAIN prepare --tokenizer="$TOKENIZER" --out="$W/data" --val_every=100 \
    --corpus="$(ls "$W"/corpus/*.txt | paste -sd,)" >> "$R/study.log" 2>&1 ||
    { tail "$R/study.log"; exit 1; }
  rm -rf "$W/corpus"
fi
cp "$W/data/dataset.json" "$R/"

# study NAME [flags...]: continues studies/NAME until it is done or the
# time is up; returns 0 when it is done.
study() {
  local name=$1; shift
  [ -f "$W/studies/$name/attention_stats.json" ] && return 0
  local t=$(left)
  [ "$t" -gt 30 ] || return 1
  log "study $name ($t s left)"
  timeout "$t" $TRAIN study --data="$W/data" --tokenizer="$TOKENIZER" \
    --out="$W/studies/$name" --resume --progress=false "$@" \
    >> "$R/$name.log" 2>&1
  local status=$?
  log "study $name: exit $status"
  return $status
}
ARTICLE=(--size=article --batch_size=16 --max_steps=4280 --warmup_steps=200
         --lr=6e-4 --min_lr=6e-5 --eval_every=428 --eval_batches=31
         --log_every=40)
# The shipped checkpoints' settings (docs/training.md).
SHIPPED=(--size=small --batch_size=128 --max_steps=1900 --warmup_steps=95
         --eval_every=95 --log_every=19)
study article --seed=1337 "${ARTICLE[@]}" &&
  study seed1337 --seed=1337 "${SHIPPED[@]}" &&
  study seed1338 --seed=1338 "${SHIPPED[@]}" &&
  study seed1339 --seed=1339 "${SHIPPED[@]}" &&
  study article-seed1338 --seed=1338 --variants=base,qkv_gelu "${ARTICLE[@]}" &&
  log "all done"
