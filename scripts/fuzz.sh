#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of tests/fuzz with clang into
# build-fuzz/ (ASan + UBSan + libFuzzer; docs/hardening.md).
#
#   scripts/fuzz.sh smoke              build, then each target briefly (ctest -L fuzz)
#   scripts/fuzz.sh run TARGET [SECONDS] [libFuzzer flags...]
#                                      one long run (default 600 s); new inputs
#                                      go to build-fuzz/fuzz-work/TARGET/corpus,
#                                      crashes to .../artifacts, the log to .../log
#   scripts/fuzz.sh build              only build
# Environment: FUZZ_SMOKE_SECONDS (default 30) for smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(safetensors_fuzz checkpoint_fuzz tokenizer_fuzz validate_fuzz)
BUILD=build-fuzz
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

build() {
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DTINYLM_FUZZ=ON -DTINYLM_BUILD_TESTS=OFF \
    -DTINYLM_FUZZ_SMOKE_SECONDS="${FUZZ_SMOKE_SECONDS:-30}" >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"
}

case "${1:-smoke}" in
  build)
    build
    ;;
  smoke)
    build
    # One target at a time: each is single-threaded, and the machine is
    # small; a finding prints the input's path under build-fuzz/tests/fuzz.
    ctest --test-dir "$BUILD" -L fuzz --output-on-failure -j1
    ;;
  run)
    target="${2:?usage: scripts/fuzz.sh run TARGET [SECONDS] [flags...]}"
    seconds="${3:-600}"
    shift $(( $# < 3 ? $# : 3 ))
    build >/dev/null
    work="$BUILD/fuzz-work/$target"
    mkdir -p "$work/corpus" "$work/artifacts"
    dict=()
    [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
    echo "fuzzing $target for $seconds s; log: $work/log"
    status=0
    "$BUILD/bin/$target" -max_total_time="$seconds" -timeout=25 \
      -rss_limit_mb=4096 -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="$work/artifacts/" "$@" \
      "$work/corpus" "tests/fuzz/corpus/$target" >"$work/log" 2>&1 || status=$?
    grep -E '^#[0-9]+ +(INITED|DONE)|^stat::|^==|^SUMMARY|property failed' \
      "$work/log" || true
    exit "$status"
    ;;
  *)
    echo "usage: scripts/fuzz.sh [smoke|build|run TARGET [SECONDS]]" >&2
    exit 2
    ;;
esac
