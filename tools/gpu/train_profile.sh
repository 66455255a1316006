#!/usr/bin/env bash
# Where one training step's GPU time goes, on a CUDA host: Nsight Compute
# times every kernel of a short tinylm-train run (article size, batch
# 16 × 1024, eager steps so that each kernel is seen on its own; the clocks
# left alone), and kernel_profile.py sums the last step by kernel and by kind
# (matrix products, attention, element-wise, optimizer, ...).
#   bash tools/gpu/train_profile.sh TINYLM_TRAIN RESULTS_DIR [VARIANT]
set -uo pipefail
TRAIN=${1:?usage: tools/gpu/train_profile.sh TINYLM_TRAIN RESULTS_DIR [VARIANT]}
RESULTS=${2:?usage: tools/gpu/train_profile.sh TINYLM_TRAIN RESULTS_DIR [VARIANT]}
VARIANT=${3:-base}
WORK=/tmp/tinylm-train-profile
source tools/gpu/env.sh > /dev/null || exit 1
rm -rf "$WORK"; mkdir -p "$WORK" "$RESULTS"
TOK=models/checkpoints/base/tokenizer.model
$TRAIN prepare --corpus=tests/data/corpus-sample.txt --tokenizer=$TOK \
  --out=$WORK/data --val_every=4 > "$WORK/prepare.log" 2>&1 ||
  { tail "$WORK/prepare.log"; exit 1; }
timeout 240 ncu --clock-control none --metrics gpu__time_duration.sum --csv \
  --print-units base \
  $TRAIN train --data=$WORK/data --tokenizer=$TOK --out=$WORK/run \
  --size=article --variant=$VARIANT --batch_size=16 --max_steps=3 \
  --warmup_steps=1 --eval_every=100000 --log_every=1 --progress=false \
  --cuda_graph=false > "$WORK/kernels.csv" 2> "$WORK/train.err"
echo "ncu exit $?; $(wc -l < "$WORK/kernels.csv") lines"
python3 tools/gpu/kernel_profile.py "$WORK/kernels.csv" | tee "$RESULTS/profile_$VARIANT.md"
gzip -c "$WORK/kernels.csv" > "$RESULTS/kernels_$VARIANT.csv.gz"
