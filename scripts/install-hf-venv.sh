#!/usr/bin/env bash
# Makes .venv, the Python that tests/hf_interop_test.py runs in: a venv that
# also sees Debian's packages (torch 1.13, numpy, grpcio from
# scripts/install-deps.sh) plus transformers and the few packages it needs
# that Debian lacks, exactly as pinned in tests/requirements-hf.txt and
# without their dependencies, so that nothing else (no torch) comes from
# PyPI. Does nothing when .venv already holds those pins. About 80 s with a
# cold pip cache (some 20 MB of wheels) on a busy 2-core machine; pip's own
# cache (~/.cache/pip) makes later fresh clones faster. Safe to run again.
#   scripts/install-hf-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
requirements=tests/requirements-hf.txt
if cmp -s "$requirements" "$venv/requirements-hf.txt" &&
   "$venv/bin/python3" -c 'import transformers' 2>/dev/null; then
  exit 0
fi
start=$(date +%s)
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
  -r "$requirements"
"$venv/bin/python3" -c 'import torch, transformers; print("transformers",
  transformers.__version__, "on torch", torch.__version__)'
cp "$requirements" "$venv/requirements-hf.txt"
echo "$venv: $(( $(date +%s) - start )) s"
