#!/usr/bin/env bash
# Training speed and the fused path's correctness on a CUDA host, in one
# run: builds tinylm-train against the host's CUDA LibTorch, prepares a
# small dataset (tests/data/corpus-sample.txt, the shipped tokenizer: for
# speed any tokens do), then
#   1. the fused step against the reference step, same seed and data, a few
#      hundred steps at the shipped size: both loss curves (curves.jsonl);
#   2. tinylm-train (fused kernels, one CUDA graph per step) for every
#      variant at the article size (batch 16 and 64 × 1024) and the shipped
#      size (batch 128 × 256): tokens/s after warm-up, MFU, peak memory;
#   3. the PyTorch peers of tools/bench/train_pytorch.py on the same shapes
#      (eager and torch.compile, plain or SDPA attention, fused AdamW), as
#      far as the time allows, most important first (the eight article-size
#      rows' compiled peers take about 360 s beside about 160 s of build
#      and tinylm-train runs: the last ones may not fit in one call).
# Everything lands in RESULTS_DIR/results.tgz; the table is printed last.
#   bash tools/gpu/train_bench.sh RESULTS_DIR [TOTAL_SECONDS]
# TINYLM_BENCH_ONLY="article/qkv_gelu/64 ..." (size/variant/batch) runs only
# those rows, tinylm-train's and their peers', to measure again in one run
# what an earlier call had no time left for.
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/train_bench.sh RESULTS_DIR [TOTAL_SECONDS]}
TOTAL=${2:-560}
WORK=/tmp/tinylm-train-bench
# The build directory of tools/gpu/kernels_all.sh, configured the same way:
# on a machine still warm from that run only tinylm-train is left to build.
BUILD=/tmp/tinylm-gpu-build
R=$WORK/results
T0=$(date +%s)
rm -rf "$WORK"; mkdir -p "$R" "$WORK/runs" "$RESULTS"
trap 'tar -czf "$RESULTS/results.tgz" -C "$R" .' EXIT
say() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$R/run.log"; }
left() { echo $(( TOTAL - ($(date +%s) - T0) )); }
ONLY=${TINYLM_BENCH_ONLY:-}
wanted() {  # wanted SIZE VARIANT BATCH: the row is in TINYLM_BENCH_ONLY
  [ -z "$ONLY" ] || [[ " $ONLY " == *" $1/$2/$3 "* ]]
}

source tools/gpu/env.sh > "$R/build.log" 2>&1 || { cat "$R/build.log"; exit 1; }
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm \
  --format=csv,noheader | tee -a "$R/run.log"
say "configure + build"
cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  -DTINYLM_CUDA_RESOURCE_USAGE=ON >> "$R/build.log" 2>&1 \
  || { tail -40 "$R/build.log"; exit 1; }
cmake --build $BUILD -j16 --target tinylm-train kernels_test \
  decode_step_test >> "$R/build.log" 2>&1 \
  || { grep -B2 -A12 -E "error|FAILED" "$R/build.log" | head -80; exit 1; }
# The kernels the fused step runs, checked again first (seconds).
say "0. kernel tests"
timeout 60 $BUILD/bin/kernels_test --gtest_brief=1 > "$R/kernels_test.txt" 2>&1
say "  kernels_test exit $?: $(grep -c ' ok$' "$R/kernels_test.txt") comparisons ok, $(grep -c ' FAIL$' "$R/kernels_test.txt") failed"
grep -E "FAILED|FAIL$" "$R/kernels_test.txt" | head -20
timeout 90 $BUILD/bin/decode_step_test --gtest_brief=1 \
  --gtest_filter='AllVariants/*' > "$R/decode_step_test.txt" 2>&1
say "  decode_step_test exit $?: $(grep -c '^CHECK.* ok$' "$R/decode_step_test.txt") checks ok, $(grep -c '^CHECK.*FAIL' "$R/decode_step_test.txt") failed"
TRAIN=$BUILD/bin/tinylm-train
TOK=models/checkpoints/base/tokenizer.model
$TRAIN prepare --corpus=tests/data/corpus-sample.txt --tokenizer=$TOK \
  --out=$WORK/data --val_every=4 >> "$R/run.log" 2>&1 || { tail "$R/run.log"; exit 1; }

# tinylm RUN_NAME SIZE VARIANT BATCH STEPS [flags...]: one training run;
# appends its speed (steps after the 10th, by metrics.csv) to bench.jsonl.
tinylm() {
  local name=$1 size=$2 variant=$3 batch=$4 steps=$5; shift 5
  local dir=$WORK/runs/$name
  wanted $size $variant $batch || return 0
  timeout 120 $TRAIN train --data=$WORK/data --tokenizer=$TOK --out=$dir \
    --size=$size --variant=$variant --batch_size=$batch --max_steps=$steps \
    --warmup_steps=5 --eval_every=100000 --log_every=5 --progress=false \
    "$@" > $dir.log 2>&1 || { echo "  $name failed:"; tail -5 $dir.log; return 1; }
  python3 - $dir $name $size $variant $batch "$*" >> "$R/bench.jsonl" <<'PY'
import csv, json, sys
d, name, size, variant, batch, flags = sys.argv[1:7]
rows = list(csv.DictReader(open(d + "/metrics.csv")))
result = json.load(open(d + "/result.json"))
a = next(r for r in rows if int(r["step"]) >= 10); b = rows[-1]
tps = (int(b["tokens"]) - int(a["tokens"])) / (float(b["elapsed_s"]) - float(a["elapsed_s"]))
# The FLOP count of tools/bench/train_pytorch.py: 6 per non-embedding
# parameter and PaLM's attention term, over the measured bf16 rate.
c = json.load(open(d + "/checkpoint/config.json"))
hs = c["n_embd"] // c["n_head"]
per_token = (6 * (result["parameters"] - c["vocab_size"] * c["n_embd"])
             + 12 * c["n_layer"] * c["n_head"] * hs * c["block_size"])
print(json.dumps({"impl": "tinylm-train " + flags, "run": name, "size": size,
                  "variant": variant, "batch": int(batch),
                  "params": result["parameters"], "tokens_per_s": tps,
                  "mfu": tps * per_token / 790e12,
                  "peak_memory_gib": result["peak_memory_bytes"] / 2**30,
                  "loss": float(b["loss"])}))
PY
  mkdir -p "$R/metrics"; cp $dir/metrics.csv "$R/metrics/$name.csv"
}
peer() {  # peer SECONDS args...: one PyTorch peer run, if time allows
  local seconds=$1; shift
  local -A arg=(); local a key=
  for a in "$@"; do [ -n "$key" ] && arg[$key]=$a; key=; [[ $a == --* ]] && key=${a#--}; done
  wanted "${arg[size]}" "${arg[variant]}" "${arg[batch]}" || return 0
  [ "$(left)" -gt $(( seconds + 10 )) ] || { say "skipped (time): $*"; return; }
  say "peer $*"
  timeout $seconds python3 tools/bench/train_pytorch.py --data $WORK/data/train.bin \
    "$@" >> "$R/bench.jsonl" 2>> "$R/peers.log" || say "  peer failed or timed out: $*"
}

say "1. fused vs reference, shipped size"
for v in base score_fcn; do
  tinylm curve_ref_$v small $v 32 300 --fused=false --log_every=10
  tinylm curve_fused_$v small $v 32 300 --log_every=10
done
say "2. tinylm-train"
for v in base qkv_gelu separate_qkv score_fcn; do
  tinylm a16_$v article $v 16 40
done
for v in base score_fcn qkv_gelu separate_qkv; do
  tinylm a64_$v article $v 64 25
done
for v in base qkv_gelu separate_qkv score_fcn; do
  tinylm s128_$v small $v 128 60
done
tinylm a16_base_nograph article base 16 40 --cuda_graph=false
say "3. peers"
# The best peer of every article-size row first (compiled, plain attention),
# then the shipped size's and the informative ones (eager, SDPA).
for b in "16 30" "64 15"; do
  set -- $b
  for v in base score_fcn qkv_gelu separate_qkv; do
    peer 90 --size article --variant $v --batch $1 --steps $2 --compile --attention plain --fused_adamw
  done
done
peer 120 --size small --variant base --batch 128 --steps 40 --compile --attention sdpa --fused_adamw
peer 120 --size small --variant base --batch 128 --steps 40 --compile --attention plain --fused_adamw
peer 60 --size article --variant base --batch 16 --steps 20 --attention plain --fused_adamw
peer 150 --size article --variant base --batch 16 --steps 30 --compile --attention sdpa --fused_adamw

python3 - "$R/bench.jsonl" <<'PY' | tee "$R/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| impl | size | variant | batch | tokens/s | MFU | peak GiB |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
for r in rows:
    mfu = "%.1f %%" % (100 * r["mfu"]) if "mfu" in r else "-"
    print("| %s | %s | %s | %d | %.0f | %s | %.1f |" % (
        r.get("impl"), r["size"], r["variant"], r["batch"], r["tokens_per_s"],
        mfu, r.get("peak_memory_gib", 0)))
PY
say "done"
