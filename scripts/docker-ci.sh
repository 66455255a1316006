#!/usr/bin/env bash
# CI's Docker check (run by .ci/run after scripts/test.sh, as root):
# starts a private dockerd, makes a local Debian 12 base image with
# debootstrap (no registry is reachable), builds docker/Dockerfile, runs the
# container on the host network and calls it from outside with the tinylm
# CLI and a Python grpcio client, then stops the container and dockerd by
# their PIDs, also on failure. Prints each step's time and closes with
# "docker: N passed, N failed".
#
#   scripts/docker-ci.sh
# Environment: TINYLM_BUILD_DIR (default build/): the host build that gives
# the CLI (bin/tinylm) and the Python stubs (python/); TINYLM_DOCKER_JOBS:
# compile jobs inside the image build (default: one per core).
#
# Compile time: building the project a second time inside the image would
# take about as long as the host build again. The image build therefore
# reuses the host build's compiler cache: this script copies the ccache
# directory into the build context (.cache/docker-ccache), the Dockerfile
# points ccache at it, and CCACHE_BASEDIR and CCACHE_SLOPPINESS=locale (set
# by .ci/run for the host build and by the Dockerfile for the image build)
# make the cache entries independent of the tree's location and of the
# locale variables (ccache hashes LANG and LC_*, which differ between the
# host and the build stage). The Dockerfile's build stage still
# configures, compiles (with cache hits for unchanged inputs) and links
# everything itself, so the check proves that stage works; without a cache
# (users' builds) it compiles from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$(realpath -m "${TINYLM_BUILD_DIR:-build}")
DOCKER=/usr/bin/docker  # Debian's client, the daemon's version
IMAGE=tinylm:ci
BASE=localhost/bookworm-base
SEED=$ROOT/.cache/docker-ccache
PY=/usr/bin/python3     # Debian's interpreter, which has grpcio

T0=$(date +%s)
LAST=$T0
TIMES=()
mark() {  # mark STEP: prints and records the time since the last mark
  local now
  now=$(date +%s)
  TIMES+=("$(printf '%-22s %5d s' "$1" $((now - LAST)))")
  echo "docker-ci: $1 done in $((now - LAST)) s"
  LAST=$now
}
PASSED=0
FAILED=0
check() {  # check NAME COMMAND...: runs a check and counts it
  local name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "docker-ci: PASS $name"
  else
    FAILED=$((FAILED + 1))
    echo "docker-ci: FAIL $name"
  fi
}

# ---- what the calls from outside need: the host build's CLI and stubs.
CLI=$BUILD/bin/tinylm
STUBS=$BUILD/python
for f in "$CLI" "$STUBS/tinylm/v1/tinylm_pb2_grpc.py" \
         "$STUBS/grpc_health_v1/health_pb2_grpc.py"; do
  if [ ! -e "$f" ]; then
    echo "docker-ci: $f is missing: build the project first (scripts/build.sh)" >&2
    exit 1
  fi
done

W=$(mktemp -d /tmp/tinylm-docker-ci.XXXXXX)
DPID=""
CID=""
SPID=""
cleanup() {
  set +e
  if [ -n "$CID" ]; then
    $DOCKER rm -f "$CID" >/dev/null 2>&1
    [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID"
  fi
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill "$DPID"
    for _ in $(seq 60); do kill -0 "$DPID" 2>/dev/null || break; sleep 1; done
    kill -0 "$DPID" 2>/dev/null && kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
  fi
  # dockerd leaves its network-namespace mount behind; never delete
  # through a mount that is still there.
  grep -o " $W/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l
  grep -q " $W/" /proc/mounts || rm -rf "$W"
  rm -rf "$SEED"
}
trap cleanup EXIT

echo "docker-ci: installing docker.io, debootstrap, docker-compose, yamllint"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null \
   || [ ! -x "$DOCKER" ] || ! command -v docker-compose >/dev/null \
   || ! command -v yamllint >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io debootstrap docker-compose yamllint >/dev/null
fi
mark "install"

# ---- the deployment files: YAML syntax (yamllint), the Compose schema
# (docker-compose config), and the fields that must agree between the
# Kubernetes manifests, compose.yaml and the Dockerfiles. No Kubernetes
# schema validator is packaged in Debian 12.
check "yamllint docker/compose.yaml docker/k8s/*.yaml" \
  yamllint -s -d '{extends: default, rules: {line-length: {max: 100}, document-start: disable}}' \
  docker/compose.yaml docker/k8s/
compose_valid() {
  docker-compose -f docker/compose.yaml --profile gpu config -q
}
check "docker-compose config (Compose schema)" compose_valid
check "manifests agree with each other and the images" \
  "$PY" tests/deploy_manifests_check.py "$ROOT"

# ---- dockerd: own data and exec roots, no bridge, no iptables (build
# steps and containers use the host network).
dockerd --data-root "$W/data" --exec-root "$W/exec" --storage-driver overlay2 \
  --iptables=false --ip6tables=false --bridge=none \
  --host "unix://$W/docker.sock" --pidfile "$W/dockerd.pid" \
  >"$W/dockerd.log" 2>&1 &
DPID=$!
export DOCKER_HOST=unix://$W/docker.sock DOCKER_BUILDKIT=0
for _ in $(seq 60); do
  $DOCKER version >/dev/null 2>&1 && break
  kill -0 "$DPID" 2>/dev/null || break
  sleep 1
done
if ! $DOCKER version >/dev/null 2>&1; then
  echo "docker-ci: dockerd did not start:" >&2
  tail -20 "$W/dockerd.log" >&2
  exit 1
fi
echo "docker-ci: dockerd $($DOCKER version --format '{{.Server.Version}}') (PID $DPID)"
mark "dockerd"

# ---- base image: a minimal Debian 12 from the mirror apt uses here (a
# local mirror or a proxy included), or from TINYLM_DEBIAN_MIRROR and
# TINYLM_DEBIAN_SECURITY when set.
repo_of() {  # repo_of SUITE: the URI apt fetches SUITE from
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
    | awk -v s="$1" '$1 == s { print $2; exit }'
}
MIRROR=${TINYLM_DEBIAN_MIRROR:-$(repo_of bookworm)}
SECURITY=${TINYLM_DEBIAN_SECURITY:-$(repo_of bookworm-security)}
if [ -z "$MIRROR" ]; then
  echo "docker-ci: apt here fetches no bookworm suite (run apt-get update," \
       "or set TINYLM_DEBIAN_MIRROR to a Debian mirror's URI)" >&2
  exit 1
fi
echo "docker-ci: debootstrap from $MIRROR"
debootstrap --variant=minbase bookworm "$W/rootfs" "$MIRROR" >"$W/debootstrap.log" 2>&1 \
  || { tail -20 "$W/debootstrap.log" >&2; exit 1; }
rm -f "$W/rootfs/etc/apt/sources.list.d/"*
{
  echo "deb $MIRROR bookworm main"
  echo "deb $MIRROR bookworm-updates main"
  [ -z "$SECURITY" ] || echo "deb $SECURITY bookworm-security main"
} >"$W/rootfs/etc/apt/sources.list"
# The same acquire settings as apt here (e.g. a snapshot mirror's expired
# Valid-Until, a proxy).
apt-config dump 2>/dev/null \
  | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
  >"$W/rootfs/etc/apt/apt.conf.d/90ci-acquire" || true
rm -rf "$W/rootfs/var/cache/apt/archives/"*.deb "$W/rootfs/var/lib/apt/lists/"*
tar -C "$W/rootfs" -c . | $DOCKER import -c 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
rm -rf "$W/rootfs"
mark "base image"

# ---- the image, from docker/Dockerfile, with the host's compiler cache.
CCACHE_SRC=$(ccache -k cache_dir 2>/dev/null || true)
rm -rf "$SEED"
if [ -n "$CCACHE_SRC" ] && [ -d "$CCACHE_SRC" ]; then
  # Only entries written or hit in the last 4 hours (ccache refreshes an
  # entry's time on each hit), i.e. this run's host build, not the whole
  # cache of a long-lived machine.
  mkdir -p "$SEED"
  (cd "$CCACHE_SRC" && find . -type f -mmin -240 -print0 \
     | xargs -0 -r cp -a --parents -t "$SEED")
  # The statistics printed by the build stage then count only its own calls.
  CCACHE_DIR="$SEED" ccache --zero-stats >/dev/null
  echo "docker-ci: compiler cache for the image build: $(du -sh "$SEED" | cut -f1)"
fi
stamp() {  # prefixes each line with the time of day
  local line
  while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done
}
set +e
$DOCKER build --network host --build-arg BASE_IMAGE="$BASE" \
  ${TINYLM_DOCKER_JOBS:+--build-arg JOBS="$TINYLM_DOCKER_JOBS"} \
  -f docker/Dockerfile -t "$IMAGE" . 2>&1 | stamp >"$W/build.log"
rc=${PIPESTATUS[0]}
set -e
# The steps (with the time each began), the compile progress and the cache
# statistics; the end of the log on failure.
grep -E '^[0-9:]{8} (Step |Sending build context|Successfully built|\[[0-9]+/[0-9]+\] (Build|Linking)|Cacheable|  (Hits|Misses|  Direct|  Preprocessed)|Hits|Misses)' \
  "$W/build.log" | sed 's/^/  /' | cut -c1-150
if [ $rc -ne 0 ]; then
  echo "docker-ci: docker build failed ($rc):" >&2
  tail -60 "$W/build.log" >&2
  exit 1
fi
rm -rf "$SEED"
SIZE=$($DOCKER image inspect -f '{{.Size}}' "$IMAGE")
echo "docker-ci: image $IMAGE: $((SIZE / 1000000)) MB"
mark "image build"

# ---- run it on the host network, on a free port.
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CID=$($DOCKER run -d --network host -e TINYLM_PORT="$PORT" \
  --health-interval=2s "$IMAGE")
SPID=$($DOCKER inspect -f '{{.State.Pid}}' "$CID")
echo "docker-ci: container ${CID:0:12} (server PID $SPID) on 127.0.0.1:$PORT"
healthy() {
  local state
  for _ in $(seq 240); do
    state=$($DOCKER inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$CID")
    [ "$state" = "running healthy" ] && return 0
    case $state in running*) ;; *) break ;; esac
    sleep 1
  done
  echo "docker-ci: container state: $state" >&2
  $DOCKER logs --tail 30 "$CID" >&2
  return 1
}
check "HEALTHCHECK reports healthy" healthy
mark "container start"

not_root() { [ "$($DOCKER exec "$CID" id -u)" != 0 ]; }
check "server runs as a non-root user" not_root
lean() {  # no compiler, no CMake and no -dev package in the runtime image
  $DOCKER exec "$CID" sh -c '! command -v g++ && ! command -v cmake \
    && ! dpkg-query -W -f "\${Package}\n" | grep -q -- "-dev\$"'
}
check "runtime image carries no toolchain" lean

cli_health() { [ "$("$CLI" --server="127.0.0.1:$PORT" --timeout=10s health)" = SERVING ]; }
check "CLI: tinylm health" cli_health
cli_models() {
  local out name
  out=$("$CLI" --server="127.0.0.1:$PORT" models) || return 1
  echo "$out" | sed 's/^/  /'
  for name in $(ls models/checkpoints); do
    grep -q -- "$name" <<<"$out" || { echo "missing model $name" >&2; return 1; }
  done
}
check "CLI: tinylm models" cli_models
cli_generate() {
  local out
  out=$("$CLI" --server="127.0.0.1:$PORT" --model=base --max_new_tokens=16 \
        --seed=7 generate "吾輩は猫である。") || return 1
  echo "  $out"
  [ -n "$out" ]
}
check "CLI: tinylm generate" cli_generate
check "Python grpcio client (health, ListModels, Generate, Tokenize)" \
  "$PY" tests/docker_smoke.py "127.0.0.1:$PORT" "$STUBS" models/checkpoints
mark "calls"

# ---- graceful stop: SIGTERM to the server (PID 1), exit status 0.
stopped() {
  $DOCKER stop -t 30 "$CID" >/dev/null || return 1
  ! kill -0 "$SPID" 2>/dev/null \
    && [ "$($DOCKER inspect -f '{{.State.ExitCode}}' "$CID")" = 0 ]
}
check "docker stop: server exits 0" stopped
$DOCKER rm "$CID" >/dev/null
CID=""

kill "$DPID"
wait "$DPID" || true
DPID=""
mark "stop"

echo "docker-ci: times"
printf '  %s\n' "${TIMES[@]}"
printf '  %-22s %5d s\n' total $(($(date +%s) - T0))
echo "docker: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
