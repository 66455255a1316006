#!/usr/bin/env bash
# Runs the serving benchmark matrix: starts tinylm-server on a free port,
# waits until it is SERVING, runs tinylm-bench over every model x every
# concurrency level, writes the results, and stops the server by its PID.
#
#   tools/bench/run_matrix.sh --server_bin build/bin/tinylm-server \
#       --bench_bin build/bin/tinylm-bench --device cuda --out results/gpu
#
# Options (defaults in brackets):
#   --server_bin PATH      tinylm-server [build/bin/tinylm-server]
#   --bench_bin PATH       tinylm-bench [build/bin/tinylm-bench]
#   --checkpoints DIR      checkpoints to serve [models/checkpoints]
#   --device D             cpu | cuda | cuda:N | auto [auto]
#   --out DIR              results directory [bench-results]
#   --models A,B           models to measure [all served]
#   --concurrency LIST     [1,8,32,64,128]
#   --duration_s S         measured seconds per run [10]
#   --max_new_tokens N     [128]
#   --prompt_tokens N      [32]
#   --prompts_file F       text to cut prompts from [synthetic ids]
#   --warmup_requests N    per stream [1]
#   --max_batch N          server's sequences per step [largest concurrency]
#   --startup_timeout_s S  for loading the models [600]
#   --label TEXT           hardware note for the report [from lscpu/nvidia-smi]
#   --server_flags "F"     more tinylm-server flags, split on spaces [none]
#   --commit TEXT          source commit for the report [git rev-parse, where
#                          the tree is a git checkout]
#   -- ARGS...             passed to tinylm-bench as they are
# Writes into --out: bench.json and bench.md (tinylm-bench's report),
# throughput.svg (plot_matrix.py, when a python3 is found), server.log.
# Exit status: tinylm-bench's, or 1 if the server failed to start or to stop
# cleanly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

server_bin=build/bin/tinylm-server
bench_bin=build/bin/tinylm-bench
checkpoints=$root/models/checkpoints
device=auto
out=bench-results
models=
concurrency=1,8,32,64,128
duration_s=10
max_new_tokens=128
prompt_tokens=32
prompts_file=
warmup_requests=1
max_batch=
startup_timeout_s=600
label=
commit=
server_flags=
extra=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --server_bin) server_bin=$2; shift 2 ;;
    --bench_bin) bench_bin=$2; shift 2 ;;
    --checkpoints) checkpoints=$2; shift 2 ;;
    --server_flags) server_flags=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration_s) duration_s=$2; shift 2 ;;
    --max_new_tokens) max_new_tokens=$2; shift 2 ;;
    --prompt_tokens) prompt_tokens=$2; shift 2 ;;
    --prompts_file) prompts_file=$2; shift 2 ;;
    --warmup_requests) warmup_requests=$2; shift 2 ;;
    --max_batch) max_batch=$2; shift 2 ;;
    --startup_timeout_s) startup_timeout_s=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "run_matrix.sh: unknown option $1" >&2; usage ;;
  esac
done

for bin in "$server_bin" "$bench_bin"; do
  [[ -x $bin ]] || { echo "run_matrix.sh: $bin is not an executable" >&2; exit 2; }
done
# The server batches up to max_batch streams; by default every stream of
# the largest level gets a slot, so the matrix measures batching, not queueing.
if [[ -z $max_batch ]]; then
  max_batch=$(tr ',' '\n' <<<"$concurrency" | sort -n | tail -1)
fi
if [[ -z $label ]]; then
  cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  label="device=$device; CPU: ${cpu:-unknown}, $(nproc) cores"
  if command -v nvidia-smi >/dev/null 2>&1 && [[ $device != cpu ]]; then
    gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader \
          2>/dev/null | head -1 || true)
    label="$label; GPU: ${gpu:-unknown}"
  fi
fi
if [[ -z $commit ]]; then
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (modified)"
  fi
fi

mkdir -p "$out"
log=$out/server.log
# $server_flags is split into flags on purpose.
# shellcheck disable=SC2086
"$server_bin" --listen 127.0.0.1:0 --checkpoints "$checkpoints" \
  --device "$device" --max_batch "$max_batch" \
  --max_queued $((max_batch * 2 > 256 ? max_batch * 2 : 256)) \
  $server_flags >"$log" 2>&1 &
server_pid=$!

stop_server() {
  # SIGTERM: the server drains its calls and exits 0. Bounded wait, then
  # SIGKILL, so the script never hangs on a stuck server.
  kill -TERM "$server_pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "run_matrix.sh: server $server_pid did not stop; killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  local status=0
  wait "$server_pid" 2>/dev/null || status=$?
  server_pid=
  return "$status"
}
trap '[[ -n ${server_pid:-} ]] && stop_server || true' EXIT

# The server prints its port once every model is loaded (port 0 = a free
# one). Bounded polling of its log; stop early if it exits.
port=
for _ in $(seq 1 $((startup_timeout_s * 5))); do
  port=$(sed -n 's/.* on port \([0-9][0-9]*\)$/\1/p' "$log" | head -1)
  [[ -n $port ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run_matrix.sh: the server exited during start-up:" >&2
    cat "$log" >&2
    server_pid=
    exit 1
  fi
  sleep 0.2
done
if [[ -z $port ]]; then
  echo "run_matrix.sh: no port from the server after ${startup_timeout_s}s" >&2
  cat "$log" >&2
  exit 1
fi

bench_args=(--server "127.0.0.1:$port" --wait_for_serving
  --concurrency "$concurrency" --duration_s "$duration_s"
  --max_new_tokens "$max_new_tokens" --prompt_tokens "$prompt_tokens"
  --warmup_requests "$warmup_requests"
  --json_out "$out/bench.json" --md_out "$out/bench.md"
  --commit "$commit" --label "$label")
[[ -n $models ]] && bench_args+=(--models "$models")
[[ -n $prompts_file ]] && bench_args+=(--prompts_file "$prompts_file")
bench_status=0
"$bench_bin" "${bench_args[@]}" "${extra[@]}" || bench_status=$?

server_status=0
stop_server || server_status=$?
if [[ $server_status -ne 0 ]]; then
  echo "run_matrix.sh: the server exited with status $server_status" >&2
fi

python=$(command -v /usr/bin/python3 || command -v python3 || true)
if [[ $bench_status -eq 0 && -n $python ]]; then
  "$python" "$here/plot_matrix.py" "$out/bench.json" "$out/throughput.svg" ||
    echo "run_matrix.sh: plot failed (results are in $out/bench.json)" >&2
fi
[[ $bench_status -ne 0 ]] && exit "$bench_status"
[[ $server_status -ne 0 ]] && exit 1
echo "run_matrix.sh: results in $out"
