#!/usr/bin/env bash
# Installs the Debian 12 packages tinylm builds, tests and runs with.
# Run as root (or with sudo available). Safe to run again.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git xz-utils
  curl                               # tests/http_api_test.py calls the HTTP face with it
  libtorch-dev                       # LibTorch 1.13, CPU
  libgloo-dev                        # its Gloo headers: data parallel on the CPU
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsentencepiece-dev sentencepiece
  libabsl-dev nlohmann-json3-dev libssl-dev openssl
  prometheus-cpp-dev libcpp-httplib-dev  # /metrics (prometheus-cpp core, HTTP)
  prometheus                         # promtool validates the metrics text
  libcairo2-dev fonts-noto-cjk       # heatmaps and plots, Japanese labels
  chromium chromium-driver python3-selenium  # the workbench page's test, in a real browser
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-grpcio python3-protobuf python3-numpy python3-torch
  python3-venv python3-setuptools python3-wheel  # venvs: python/'s test; transformers, openai (install-test-venv.sh)
  clang libclang-rt-14-dev llvm      # fuzzing: clang 14, libFuzzer + sanitizer runtimes, llvm-symbolizer
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # Only tools are wanted: no package may start its service (the prometheus
  # package would start a Prometheus server on port 9090). policy-rc.d
  # tells invoke-rc.d so; one already present is left alone.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
