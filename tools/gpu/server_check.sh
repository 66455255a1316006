#!/usr/bin/env bash
# The server on a CUDA host: builds the server and its tests against the
# host's CUDA LibTorch, runs the in-process server tests on CUDA (float32
# and bfloat16), diffs greedy ids CPU vs CUDA through the engine, and starts
# and stops tinylm-server on CUDA with the shipped checkpoints.
# Needs .deps/debs (tools/gpu/fetch-debs.sh) and the GoogleTest packages
# (libgtest-dev, libgmock-dev) in .deps/modeltest-debs. Run from the project
# root with a directory for the logs as the argument:
#   bash tools/gpu/server_check.sh /tmp/logs
set -o pipefail
LOG_DIR=${1:?usage: tools/gpu/server_check.sh LOG_DIR}
mkdir -p "$LOG_DIR"
source tools/gpu/env.sh > $LOG_DIR/env.log 2>&1 || { cat $LOG_DIR/env.log; exit 1; }
cat $LOG_DIR/env.log
for f in .deps/modeltest-debs/*.deb; do dpkg -x "$f" /opt/tinylm-deps; done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/b -G Ninja $TINYLM_GPU_CMAKE_ARGS > $LOG_DIR/cmake.log 2>&1 || { tail -40 $LOG_DIR/cmake.log; exit 1; }
T0=$(date +%s)
cmake --build /tmp/b -j16 --target tinylm-server server_test scheduler_test sampler_test greedy_dump make_test_checkpoints > $LOG_DIR/build.log 2>&1 || { grep -B2 -A12 'error' $LOG_DIR/build.log | head -80; exit 1; }
echo "build $(( $(date +%s) - T0 )) s"
ldd /tmp/b/bin/tinylm-server | grep -E "protobuf|torch_cuda|grpc\+\+"
/tmp/b/bin/sampler_test 2>&1 | tail -1
ck=$PWD/models/checkpoints
for dt in float32 bfloat16; do
  echo "== server_test cuda $dt"
  TINYLM_TEST_CHECKPOINTS=$ck TINYLM_TEST_DEVICE=cuda TINYLM_TEST_DTYPE=$dt /tmp/b/bin/server_test > $LOG_DIR/server_test_$dt.txt 2>&1
  grep -E "FAILED|Failure|PASSED|Expected|Which is" $LOG_DIR/server_test_$dt.txt | head -30
done
/tmp/b/bin/make_test_checkpoints /tmp/tck > /dev/null && TINYLM_TEST_CHECKPOINTS=/tmp/tck /tmp/b/bin/scheduler_test 2>&1 | tail -1
for cfg in "cpu float32" "cuda float32" "cuda bfloat16"; do
  set -- $cfg
  /tmp/b/bin/greedy_dump $ck $1 $2 48 > $LOG_DIR/greedy_$1_$2.txt 2> $LOG_DIR/greedy_$1_$2.err || cat $LOG_DIR/greedy_$1_$2.err
done
python3 - "$LOG_DIR" <<'PY'
import sys
out = sys.argv[1]
def load(n):
    return {tuple(l.split("\t")[:2]): l.split("\t")[2].split() for l in open(f"{out}/greedy_{n}.txt")}
cpu = load("cpu_float32")
for other in ("cuda_float32", "cuda_bfloat16"):
    o = load(other)
    same = sum(cpu[k] == o[k] for k in cpu)
    firsts = []
    for k in cpu:
        d = next((i for i, (a, b) in enumerate(zip(cpu[k], o[k])) if a != b), None)
        if d is not None: firsts.append(f"{k[0]}/{k[1]}@{d}")
    print(other, "identical to cpu:", same, "/", len(cpu), "diverge:", " ".join(firsts))
PY
echo "== server start/stop on cuda"
/tmp/b/bin/tinylm-server --listen=127.0.0.1:0 --device=cuda > $LOG_DIR/server.txt 2>&1 &
P=$!
for i in $(seq 1 120); do grep -q "on port" $LOG_DIR/server.txt && break; sleep 0.5; done
cat $LOG_DIR/server.txt; kill -TERM $P; wait $P; echo "exit $?"
