#!/usr/bin/env bash
# Builds everything with AddressSanitizer (+ LeakSanitizer) into build-asan/
# and runs the test suite under it (docs/hardening.md). Not part of CI: the
# build takes about as long as the normal one again.
#   scripts/sanitize.sh [extra ctest args...]      e.g. -R server_test
# Environment: TINYLM_SANITIZE (default address; e.g. address,undefined).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTINYLM_SANITIZE="${TINYLM_SANITIZE:-address}" >/dev/null
cmake --build build-asan -j"$(nproc)"
# Leaks inside third-party libraries are suppressed (each justified in
# scripts/lsan.supp); any other leak fails the test that caused it, as does
# any ASan report. Child processes (the server under the Python tests)
# inherit the options.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The soak is a wall-clock test of throughput and memory; under ASan it
# measures the sanitizer, so it is left out here.
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" --timeout 1800 \
  -LE soak "$@"
