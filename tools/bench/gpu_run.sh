#!/usr/bin/env bash
# The whole serving benchmark on a CUDA host, in one go: builds
# tinylm-server and tinylm-bench against the host's CUDA LibTorch, runs the
# matrix (every model x concurrency 1, 8, 32, 64, 128) through gRPC, then the
# decode baselines on the same prompts and lengths, and plots both.
# Needs .deps/debs (tools/gpu/fetch-debs.sh). From the project root, with
# a directory for the results as the argument:
#   bash tools/bench/gpu_run.sh /tmp/results
# Environment knobs (defaults): DURATION_S (10) measured seconds per matrix
# run, CONCURRENCY (1,8,32,64,128), BATCH_SIZES (the same), MAX_NEW_TOKENS
# (128), PROMPT_TOKENS (32), PROMPTS_FILE (tests/data/corpus-sample.txt:
# prompts cut from real text), IMPLS (all of decode_baselines.py),
# REPEATS (5), BUILD_DIR (/tmp/tinylm-bench-build), COMMIT (recorded in the
# report; the copied tree on the GPU host is no git checkout, so pass
# COMMIT=$(git rev-parse --short HEAD) from here).
# Results, flat in RESULTS_DIR: bench.json, bench.md (matrix), baselines.jsonl,
# summary.md (baseline and target tables), throughput.svg (matrix +
# baselines), server.log, run.log.
set -uo pipefail
RESULTS_DIR=${1:?usage: tools/bench/gpu_run.sh RESULTS_DIR}
DURATION_S=${DURATION_S:-10}
CONCURRENCY=${CONCURRENCY:-1,8,32,64,128}
BATCH_SIZES=${BATCH_SIZES:-$CONCURRENCY}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-128}
PROMPT_TOKENS=${PROMPT_TOKENS:-32}
PROMPTS_FILE=${PROMPTS_FILE:-tests/data/corpus-sample.txt}
IMPLS=${IMPLS:-hf,eager,graph,graph_streamed,compile,compile_plain}
REPEATS=${REPEATS:-5}
B=${BUILD_DIR:-/tmp/tinylm-bench-build}
mkdir -p "$RESULTS_DIR"
exec > >(tee -a "$RESULTS_DIR/run.log") 2>&1

source tools/gpu/env.sh || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda)'
python3 -c 'import transformers; print("transformers", transformers.__version__)' ||
  echo "transformers missing: the hf baseline will be skipped"

T0=$(date +%s)
cmake -S . -B "$B" -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_TESTS=OFF \
  > "$B.cmake.log" 2>&1 || { tail -40 "$B.cmake.log"; exit 1; }
cmake --build "$B" -j"$(nproc)" --target tinylm-server tinylm-bench \
  > "$B.build.log" 2>&1 || { grep -B2 -A12 error "$B.build.log" | head -80; exit 1; }
echo "build: $(( $(date +%s) - T0 )) s"

T0=$(date +%s)
bash tools/bench/run_matrix.sh --server_bin "$B/bin/tinylm-server" \
  --bench_bin "$B/bin/tinylm-bench" --device cuda --out "$RESULTS_DIR" \
  --concurrency "$CONCURRENCY" --duration_s "$DURATION_S" \
  --max_new_tokens "$MAX_NEW_TOKENS" --prompt_tokens "$PROMPT_TOKENS" \
  --prompts_file "$PROMPTS_FILE" --commit "${COMMIT:-unknown}"
echo "matrix: status $?, $(( $(date +%s) - T0 )) s"

T0=$(date +%s)
rm -f "$RESULTS_DIR/baselines.jsonl"
# The very prompts the matrix sent; synthetic ones if the matrix failed.
prompts=()
[[ -f $RESULTS_DIR/bench.json ]] && prompts=(--prompts_from "$RESULTS_DIR/bench.json")
python3 tools/bench/decode_baselines.py --checkpoint models/checkpoints/base \
  "${prompts[@]}" --model_name base --device cuda \
  --prompt_tokens "$PROMPT_TOKENS" \
  --impls "$IMPLS" --batch_sizes "$BATCH_SIZES" \
  --new_tokens "$MAX_NEW_TOKENS" --repeats "$REPEATS" \
  --out "$RESULTS_DIR/baselines.jsonl" > /dev/null
echo "baselines: status $?, $(( $(date +%s) - T0 )) s"
grep -h '"kind": "check"\|"kind": "skipped"' "$RESULTS_DIR/baselines.jsonl"

python3 tools/bench/plot_matrix.py "$RESULTS_DIR/bench.json" "$RESULTS_DIR/throughput.svg" \
  --baselines "$RESULTS_DIR/baselines.jsonl"
python3 tools/bench/summarize.py "$RESULTS_DIR/bench.json" "$RESULTS_DIR/baselines.jsonl" \
  --checkpoint models/checkpoints/base > "$RESULTS_DIR/summary.md"
