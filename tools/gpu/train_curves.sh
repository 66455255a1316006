#!/usr/bin/env bash
# The fused training step against the reference step, loss for loss, on a
# CUDA host: the shipped size, base and score_fcn, 300 steps each, under
#   - the default learning rate (3e-3), seeds 1337 and 1338: how far two
#     seeds of one path drift apart is the scale that the paths' difference
#     is judged against;
#   - a learning rate ten times lower (3e-4), where the training is far from
#     unstable and rounding differences grow slowly.
# Validation loss every 100 steps (the same evaluation for both paths).
# Everything lands in RESULTS_DIR/results.tgz with curves.md, the comparison.
#   bash tools/gpu/train_curves.sh RESULTS_DIR
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/train_curves.sh RESULTS_DIR}
WORK=/tmp/tinylm-train-curves
BUILD=/tmp/tinylm-gpu-build  # shared with train_bench.sh and kernels_all.sh
R=$WORK/results
rm -rf "$WORK"; mkdir -p "$R/metrics" "$WORK/runs" "$RESULTS"
trap 'tar -czf "$RESULTS/results.tgz" -C "$R" .' EXIT
source tools/gpu/env.sh > "$R/build.log" 2>&1 || { cat "$R/build.log"; exit 1; }
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B $BUILD -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_SERVER=OFF \
  -DTINYLM_CUDA_RESOURCE_USAGE=ON >> "$R/build.log" 2>&1 &&
  cmake --build $BUILD -j16 --target tinylm-train >> "$R/build.log" 2>&1 ||
  { grep -B2 -A12 -E "error|FAILED" "$R/build.log" | head -80; exit 1; }
TRAIN=$BUILD/bin/tinylm-train
TOK=models/checkpoints/base/tokenizer.model
$TRAIN prepare --corpus=tests/data/corpus-sample.txt --tokenizer=$TOK \
  --out=$WORK/data --val_every=4 > "$R/prepare.log" 2>&1 ||
  { tail "$R/prepare.log"; exit 1; }

run() {  # run NAME VARIANT SEED LR [flags...]
  local name=$1 variant=$2 seed=$3 lr=$4; shift 4
  timeout 120 $TRAIN train --data=$WORK/data --tokenizer=$TOK \
    --out=$WORK/runs/$name --size=small --variant=$variant --batch_size=32 \
    --max_steps=300 --warmup_steps=5 --lr=$lr --min_lr=$(python3 -c "print($lr / 10)") \
    --seed=$seed --eval_every=100 --log_every=10 --progress=false "$@" \
    > "$R/$name.log" 2>&1 || { echo "$name failed:"; tail -5 "$R/$name.log"; }
  cp $WORK/runs/$name/metrics.csv "$R/metrics/$name.csv" 2>/dev/null
}
for v in base score_fcn; do
  for seed in 1337 1338; do
    run ref_${v}_${seed}_3e-3 $v $seed 3e-3 --fused=false
    run fused_${v}_${seed}_3e-3 $v $seed 3e-3
  done
  run ref_${v}_1337_3e-4 $v 1337 3e-4 --fused=false
  run fused_${v}_1337_3e-4 $v 1337 3e-4
done
python3 tools/gpu/compare_curves.py "$R/metrics" | tee "$R/curves.md"
