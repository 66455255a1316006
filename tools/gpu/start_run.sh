# shellcheck shell=bash
# Sourced by the GPU-host scripts after they set RESULTS: makes RESULTS an
# absolute directory, copies everything the script prints into
# RESULTS/run.log, defines `step NAME` (a heading with the seconds since
# the start), sources tools/gpu/env.sh and prints the GPU.
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
exec > >(tee -a "$RESULTS/run.log") 2>&1
T_START=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - T_START )) s)"; }

source tools/gpu/env.sh || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
