#!/usr/bin/env bash
# CI (no GPU): the whole device run of scripts/gpu/run_all.sh, on the CPU PTX
# emulator, so that the GPU scripts, the runtime-only build (build-rt/) and
# the bundle format cannot rot between GPU sessions.
#   bash scripts/gpu/ci_dryrun.sh BUILD_DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:?usage: ci_dryrun.sh BUILD_DIR}" && pwd)"
python="${PYTHON:-python3}"
work="$build/gpu-dryrun"
rm -rf "$work"
mkdir -p "$work"
"$python" "$root/scripts/gpu/make_bundle.py" --sparsec "$build/bin/sparsec" \
  --out "$work/bundle" --models mlp_tiny
DEVICE=emulator OUT="$work/results" BUNDLE="$work/bundle" PYTHON="$python" \
  bash "$root/scripts/gpu/run_all.sh" all
# The L2 microbenchmark only runs on a GPU; compiling it keeps it buildable.
if command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  "$nvcc" -O3 -arch=sm_90a -o "$work/l2_load_styles" \
    "$root/bench/micro/l2_load_styles.cu"
  echo "ci_dryrun: bench/micro/l2_load_styles.cu compiles"
fi
