#!/usr/bin/env bash
# The quick start: installs what is missing, builds, installs the programs
# (tinylm-server, tinylm, tinylm-train) and the shipped checkpoints into
# $TINYLM_PREFIX (default ~/.local), and starts the server on those
# checkpoints at 127.0.0.1:50051.
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
exec "$PREFIX/bin/tinylm-server" "$@"
