#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs every
# test (unit, integration over loopback gRPC, Python grpcio interop, the
# 2-minute soak), then a short run of every fuzz target.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-test-venv.sh  # transformers and openai: hf_interop_test, http_api_test
start=$(date +%s)
scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
# The fuzz targets, built with clang (ASan + UBSan + libFuzzer) into
# build-fuzz/: each replays its committed corpus, crash regressions
# included, then fuzzes for FUZZ_SMOKE_SECONDS.
FUZZ_SMOKE_SECONDS="${FUZZ_SMOKE_SECONDS:-30}" scripts/fuzz.sh smoke
echo "build + tests: $(( $(date +%s) - start )) s"
