#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs every
# test (unit, integration over loopback gRPC, Python grpcio interop).
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
start=$(date +%s)
scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
echo "build + tests: $(( $(date +%s) - start )) s"
