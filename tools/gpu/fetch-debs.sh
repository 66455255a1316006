#!/usr/bin/env bash
# Downloads, on a Debian 12 machine, the Debian packages that a GPU build
# host without a package registry lacks (gRPC, Protobuf, abseil,
# sentencepiece, nlohmann-json, OpenSSL headers, GoogleTest) into
# .deps/debs, so that they can be copied there together with the source
# tree.
# Usage (from the project root): tools/gpu/fetch-debs.sh
set -euo pipefail
mkdir -p .deps/debs
pkgs=(libsentencepiece0 libsentencepiece-dev
      libabsl-dev libabsl20220623 libc-ares-dev libc-ares2 libgrpc++-dev
      libgrpc++1.51 libgrpc-dev libgrpc29 libprotobuf-dev libprotobuf-lite32
      libprotobuf32 libprotoc32 libre2-9 libre2-dev protobuf-compiler
      protobuf-compiler-grpc libssl-dev libssl3 zlib1g-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev)
[ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock | head -1)" ] || apt-get update -qq
(cd .deps/debs && apt-get download "${pkgs[@]}")
du -sh .deps
