#!/usr/bin/env bash
# The quick start: installs what is missing, builds, and starts the server
# on the shipped checkpoints (models/checkpoints) at 127.0.0.1:50051.
#   scripts/serve.sh [tinylm-server flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/bin/tinylm-server --checkpoints=models/checkpoints "$@"
