#!/usr/bin/env bash
# The serving engine's decode speed at both model sizes on a CUDA host, in
# one run: tinylm-server through gRPC with every token streamed
# (tools/bench/run_matrix.sh), with the fused decode step and with
# LibTorch's (--fused_decode=false), beside the decode baselines of
# tools/bench/decode_baselines.py (torch.compile, a CUDA-graph loop) on the
# same checkpoint, prompts and lengths.
#   1. builds tinylm-server, tinylm-bench, tinylm-train and
#      fused_decode_steps_test against the host's CUDA LibTorch (BUILD_DIR;
#      an existing build is reused), and runs the test (fused_test.txt);
#   2. trains an article-size base checkpoint for a few steps on
#      tests/data/corpus-sample.txt (for speed, not quality);
#   3. per size (shipped: models/checkpoints/base; article): the matrix at
#      CONCURRENCY for both decode steps, then the baselines at the same
#      batch sizes.
# Needs .deps/debs (tools/gpu/fetch-debs.sh). From the project root:
#   bash tools/gpu/serve_bench.sh RESULTS_DIR
# Knobs (defaults): DURATION_S (8) per level, CONCURRENCY (1,64), SIZES
# (shipped,article), IMPLS (compile,compile_plain,graph), TOKENS_PER_MESSAGE
# (16: a third run, SIZE-batched, of the fused step at the last concurrency
# with tinylm-bench --max_tokens_per_message; 1: none), TEMPERATURE (1.0:
# a fourth run, SIZE-sampled, of the fused step at CONCURRENCY with
# requests sampled at that temperature; 0: none), CHANNELS (1: the
# connections tinylm-bench spreads its streams over), BUILD_DIR
# (/tmp/tinylm-serve-build), WORK_DIR (/tmp/tinylm-serve-work), COMMIT.
# Results in RESULTS_DIR: run.log, fused_test.txt, SIZE-fused/, SIZE-libtorch/,
# SIZE-batched/ and SIZE-sampled/ (bench.json, bench.md, server.log), SIZE-baselines.jsonl,
# SIZE-summary.md (tools/bench/summarize.py: baselines, targets, floors).
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/serve_bench.sh RESULTS_DIR}
DURATION_S=${DURATION_S:-8}
CONCURRENCY=${CONCURRENCY:-1,64}
SIZES=${SIZES:-shipped,article}
IMPLS=${IMPLS:-compile,compile_plain,graph}
TOKENS_PER_MESSAGE=${TOKENS_PER_MESSAGE:-16}
TEMPERATURE=${TEMPERATURE:-1.0}
CHANNELS=${CHANNELS:-1}
B=${BUILD_DIR:-/tmp/tinylm-serve-build}
W=${WORK_DIR:-/tmp/tinylm-serve-work}
mkdir -p "$W"
source tools/gpu/start_run.sh

step build
if [ ! -f "$B/build.ninja" ]; then
  cmake -S . -B "$B" -G Ninja $TINYLM_GPU_CMAKE_ARGS > "$W/cmake.log" 2>&1 ||
    { tail -40 "$W/cmake.log"; exit 1; }
fi
cmake --build "$B" -j"$(nproc)" --target tinylm-server tinylm-bench \
  tinylm-train fused_decode_steps_test > "$W/build.log" 2>&1 ||
  { grep -B2 -A12 error "$W/build.log" | head -80; exit 1; }

step "fused decode step against the LibTorch step"
timeout 300 "$B/bin/fused_decode_steps_test" > "$RESULTS/fused_test.txt" 2>&1
echo "fused_decode_steps_test: exit $?"
grep -E "^CHECK|FAILED" "$RESULTS/fused_test.txt"

TOK=models/checkpoints/base/tokenizer.model
if [[ $SIZES == *article* && ! -f $W/serve-article/base/config.json ]]; then
  step "article-size checkpoint"
  rm -rf "$W/data" "$W/run" "$W/serve-article"
  "$B/bin/tinylm-train" prepare --corpus=tests/data/corpus-sample.txt \
    --tokenizer=$TOK --out="$W/data" --val_every=4 > "$W/train.log" 2>&1 &&
  "$B/bin/tinylm-train" train --data="$W/data" --tokenizer=$TOK \
    --out="$W/run" --size=article --variant=base --batch_size=8 \
    --max_steps=20 --warmup_steps=2 --eval_every=20 --log_every=10 \
    --progress=false >> "$W/train.log" 2>&1 ||
    { tail -20 "$W/train.log"; exit 1; }
  mkdir -p "$W/serve-article"
  cp -r "$W/run/checkpoint" "$W/serve-article/base"
fi

IFS=, read -ra sizes <<< "$SIZES"
for size in "${sizes[@]}"; do
  checkpoints=$PWD/models/checkpoints
  [ "$size" = article ] && checkpoints=$W/serve-article
  modes="fused libtorch"
  [ "$TOKENS_PER_MESSAGE" -gt 1 ] && modes="$modes batched"
  [ "$TEMPERATURE" != 0 ] && modes="$modes sampled"
  for mode in $modes; do
    step "$size, $mode decode step"
    fused=true; [ $mode = libtorch ] && fused=false
    levels=$CONCURRENCY; bench_extra=(-- --channels="$CHANNELS")
    if [ $mode = batched ]; then  # the fused step, several tokens a message
      levels=${CONCURRENCY##*,}
      bench_extra+=(--max_tokens_per_message="$TOKENS_PER_MESSAGE")
    elif [ $mode = sampled ]; then  # the fused step, sampled requests
      bench_extra+=(--temperature="$TEMPERATURE")
    fi
    bash tools/bench/run_matrix.sh --server_bin "$B/bin/tinylm-server" \
      --bench_bin "$B/bin/tinylm-bench" --device cuda \
      --checkpoints "$checkpoints" --models base \
      --out "$RESULTS/$size-$mode" --concurrency "$levels" \
      --duration_s "$DURATION_S" --prompts_file tests/data/corpus-sample.txt \
      --server_flags "--fused_decode=$fused" --commit "${COMMIT:-unknown}" \
      "${bench_extra[@]}"
    echo "matrix: status $?"
    grep -m1 "decode step\|static shapes" "$RESULTS/$size-$mode/server.log"
    cat "$RESULTS/$size-$mode/bench.md" 2>/dev/null | head -20
  done
  step "$size, baselines"
  python3 tools/bench/decode_baselines.py --checkpoint "$checkpoints/base" \
    --prompts_from "$RESULTS/$size-fused/bench.json" --model_name base \
    --device cuda --impls "$IMPLS" --batch_sizes "$CONCURRENCY" \
    --new_tokens 128 --repeats 3 --out "$RESULTS/$size-baselines.jsonl" \
    > /dev/null
  echo "baselines: status $?"
  grep -h '"kind": "check"\|"kind": "skipped"' "$RESULTS/$size-baselines.jsonl"
  batched=()
  # The batched run is the last concurrency alone: its server's scheduler
  # time is that level's.
  [ -f "$RESULTS/$size-batched/bench.json" ] &&
    batched=(--batched "$RESULTS/$size-batched/bench.json"
             --server_log "$RESULTS/$size-batched/server.log")
  python3 tools/bench/summarize.py "$RESULTS/$size-fused/bench.json" \
    "$RESULTS/$size-baselines.jsonl" --checkpoint "$checkpoints/base" \
    "${batched[@]}" > "$RESULTS/$size-summary.md"
  sed -n '/### Targets/,/### Checks/p' "$RESULTS/$size-summary.md"
done
step "done"
