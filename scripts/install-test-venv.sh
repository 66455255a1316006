#!/usr/bin/env bash
# Makes .venv, the Python that tests/hf_interop_test.py and
# tests/http_api_test.py run in: a venv that also sees Debian's packages
# (torch 1.13, numpy, grpcio from scripts/install-deps.sh) plus what Debian
# lacks, exactly as pinned in tests/requirements-hf.txt (transformers) and
# tests/requirements-openai.txt (the openai client), without their
# dependencies, so that nothing else (no torch) comes from PyPI. Does
# nothing when .venv already holds those pins. About 80 s with a cold pip
# cache (some 25 MB of wheels) on a busy 2-core machine; pip's own cache
# (~/.cache/pip) makes later fresh clones faster. Safe to run again.
#   scripts/install-test-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
requirements=(tests/requirements-hf.txt tests/requirements-openai.txt)
if cat "${requirements[@]}" | cmp -s - "$venv/requirements.txt" &&
   "$venv/bin/python3" -c 'import transformers, openai' 2>/dev/null; then
  exit 0
fi
start=$(date +%s)
/usr/bin/python3 -m venv --system-site-packages "$venv"
for r in "${requirements[@]}"; do
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$r"
done
"$venv/bin/python3" -c 'import torch, transformers, openai; print("transformers",
  transformers.__version__, "on torch", torch.__version__, "; openai",
  openai.__version__)'
cat "${requirements[@]}" > "$venv/requirements.txt"
echo "$venv: $(( $(date +%s) - start )) s"
