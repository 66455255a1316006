#!/usr/bin/env bash
# The quick start: installs what is missing, builds, installs the programs
# (tinylm-server, tinylm, tinylm-train) and the shipped checkpoints into
# $TINYLM_PREFIX (default ~/.local), and starts the server on those
# checkpoints at 127.0.0.1:50051 (gRPC) and 127.0.0.1:8080 (HTTP: the
# workbench at /, JSON and OpenAI's API).
#   scripts/serve.sh [tinylm-server flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${TINYLM_PREFIX:-$HOME/.local}
scripts/install-deps.sh
scripts/build.sh
cmake --install build --prefix "$PREFIX" >/dev/null
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "serve.sh: the programs are in $PREFIX/bin; add it to PATH:" \
          "export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
# The workbench and the JSON/OpenAI face on 8080 (a later --http_listen
# in "$@" replaces it).
exec "$PREFIX/bin/tinylm-server" --http_listen=127.0.0.1:8080 "$@"
