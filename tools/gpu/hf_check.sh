#!/usr/bin/env bash
# A Hugging Face Llama of TinyLlama-1.1B's shape served on a CUDA host:
#   1. builds tinylm-server, tinylm-bench, tinylm-train and logits_dump
#      against the host's CUDA LibTorch;
#   2. trains a 32000-piece sentencepiece tokenizer on
#      tests/data/corpus-sample.txt (tinylm-train tokenizer);
#   3. makes a random LlamaForCausalLM with transformers on the GPU (hidden
#      2048, 22 layers, 32 heads in 4 key/value groups, SwiGLU 5632,
#      vocabulary 32000, context 2048) and saves it in bfloat16 as shards
#      with model.safetensors.index.json;
#   4. compares tinylm's logits of that directory (logits_dump, on CUDA, in
#      float32 and in bfloat16) with transformers' on the same 64 tokens;
#   5. starts tinylm-server on it alone and records the start-up time, the
#      host's peak memory and the GPU memory in use;
#   6. serves it in bfloat16 and measures it with tinylm-bench at
#      concurrency 1 and 16, 128 new tokens (tools/bench/run_matrix.sh).
# Needs .deps/debs (tools/gpu/fetch-debs.sh) and transformers on the host.
# From the project root, with a directory for the results:
#   bash tools/gpu/hf_check.sh RESULTS_DIR
# Knobs (defaults): DURATION_S (10) measured seconds per level, BUILD_DIR
# (/tmp/tinylm-hf-build), WORK_DIR (/tmp/tinylm-hf-work), COMMIT (for the
# report: the copied tree is no git checkout).
# Results in RESULTS_DIR: run.log, logits.json, load.txt, and run_matrix.sh's
# bench.json, bench.md, throughput.svg, server.log.
set -uo pipefail
RESULTS=${1:?usage: tools/gpu/hf_check.sh RESULTS_DIR}
DURATION_S=${DURATION_S:-10}
B=${BUILD_DIR:-/tmp/tinylm-hf-build}
W=${WORK_DIR:-/tmp/tinylm-hf-work}
MODEL=tinyllama-shape
mkdir -p "$W"
source tools/gpu/start_run.sh
python3 -c 'import torch, transformers; print("torch", torch.__version__,
  "cuda", torch.version.cuda, "transformers", transformers.__version__)' || exit 1

step build
cmake -S . -B "$B" -G Ninja $TINYLM_GPU_CMAKE_ARGS -DTINYLM_BUILD_TESTS=OFF \
  > "$W/cmake.log" 2>&1 || { tail -40 "$W/cmake.log"; exit 1; }
cmake --build "$B" -j"$(nproc)" --target tinylm-server tinylm-bench \
  tinylm-train logits_dump > "$W/build.log" 2>&1 ||
  { grep -B2 -A12 error "$W/build.log" | head -80; exit 1; }

step tokenizer
rm -rf "$W/tok" "$W/ck"
"$B/bin/tinylm-train" tokenizer --corpus=tests/data/corpus-sample.txt \
  --out="$W/tok" --vocab_size=32000 || exit 1

step "transformers: random model, saved in bfloat16"
mkdir -p "$W/ck"
python3 - "$W/ck/$MODEL" "$W/tok/tokenizer.model" <<'PY' || exit 1
import json, shutil, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM
out, tokenizer = sys.argv[1:3]
config = LlamaConfig(
    vocab_size=32000, hidden_size=2048, intermediate_size=5632,
    num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
    max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False,
    bos_token_id=1, eos_token_id=2)
start = time.time()
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):
    model = LlamaForCausalLM(config)
torch.set_default_dtype(torch.float32)
model.save_pretrained(out, max_shard_size="1GB")
shutil.copyfile(tokenizer, f"{out}/tokenizer.model")
with open(f"{out}/tokenizer_config.json", "w") as f:
    json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True,
               "add_eos_token": False, "legacy": True}, f)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters, saved in "
      f"{time.time() - start:.1f} s")
PY
ls -la "$W/ck/$MODEL"

step "logits: tinylm against transformers on CUDA"
python3 -c 'print(" ".join(str(3 + i * 7919 % 31997) for i in range(64)))' \
  > "$W/tokens.txt"
for dtype in float32 bfloat16; do
  T0=$(date +%s)
  "$B/bin/logits_dump" "$W/ck/$MODEL" "$W/tokens.txt" "$W/tinylm_$dtype.f32" \
    "$dtype" cuda || exit 1
  echo "logits_dump $dtype (load and one forward): $(( $(date +%s) - T0 )) s"
done
python3 - "$W" "$W/ck/$MODEL" "$RESULTS/logits.json" <<'PY'
import json, sys
import torch
from transformers import LlamaForCausalLM
work, model_dir, out = sys.argv[1:4]
ids = [int(t) for t in open(f"{work}/tokens.txt").read().split()]
report = {"tokens": len(ids)}
for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
    # torch_dtype: the name transformers 4 knows (5 still accepts it).
    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=dtype).cuda()
    with torch.no_grad():
        want = model(torch.tensor([ids], device="cuda")).logits[0].float().cpu()
    del model
    torch.cuda.empty_cache()
    raw = open(f"{work}/tinylm_{name}.f32", "rb").read()
    got = torch.frombuffer(bytearray(raw), dtype=torch.float32).view(want.shape)
    report[name] = {
        "max_abs_diff": float((got - want).abs().max()),
        "max_abs_logit": float(want.abs().max()),
        "argmax_agreement": float((got.argmax(-1) == want.argmax(-1))
                                  .float().mean()),
    }
print(json.dumps(report, indent=2))
json.dump(report, open(out, "w"), indent=2)
PY

step "start-up: load time and memory"
"$B/bin/tinylm-server" --listen=127.0.0.1:0 --checkpoints="$W/ck" \
  --device=cuda --max_batch=16 > "$W/startup.log" 2>&1 &
P=$!
T0=$(date +%s.%N)
for _ in $(seq 1 1200); do
  grep -q "on port" "$W/startup.log" && break
  kill -0 $P 2>/dev/null || break
  sleep 0.25
done
T1=$(date +%s.%N)
{
  awk -v a="$T0" -v b="$T1" 'BEGIN { printf "start-up to serving: %.1f s\n", b - a }'
  grep VmHWM /proc/$P/status | sed 's/^/host peak memory (server): /'
  nvidia-smi --query-gpu=memory.used --format=csv,noheader |
    sed 's/^/GPU memory in use: /'
  cat "$W/startup.log"
} | tee "$RESULTS/load.txt"
kill -TERM $P; wait $P; echo "server exit $?"

step "serving benchmark"
bash tools/bench/run_matrix.sh --server_bin "$B/bin/tinylm-server" \
  --bench_bin "$B/bin/tinylm-bench" --checkpoints "$W/ck" --device cuda \
  --out "$RESULTS" --concurrency 1,16 --duration_s "$DURATION_S" \
  --max_new_tokens 128 --prompt_tokens 32 \
  --prompts_file tests/data/corpus-sample.txt --commit "${COMMIT:-unknown}"
echo "matrix: status $?"
cat "$RESULTS/bench.md" 2>/dev/null
step "done"
