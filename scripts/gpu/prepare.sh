#!/usr/bin/env bash
# Runs on a development machine (with LLVM/MLIR and build/bin/sparsec), not
# on the GPU machine: builds gpu-bundle/ (pruned models compiled for
# --target=cuda at sm_80 and sm_90a, 2:4 and HiNM, their masked ONNX exports
# and inputs) for scripts/gpu/run_all.sh, then runs the smallest model on the
# CPU PTX emulator as a sanity check when the runtime is built (build-rt/).
#
#   bash scripts/gpu/prepare.sh [--models mlp_tiny,mlp,ffn]
#
# gpu-bundle/ is git-ignored; name it in the device tool's `carry` list.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
sparsec="${SPARSEC_BIN:-$root/build/bin/sparsec}"
if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"
else python=python3; fi
python="${PYTHON:-$python}"

if [[ ! -x "$sparsec" ]]; then
  echo "prepare.sh: $sparsec not found; build sparsec first" >&2; exit 1
fi
# Not `--help | grep -q`: under pipefail, grep's early exit can SIGPIPE sparsec.
help_text="$("$sparsec" --help 2>/dev/null)"
if [[ "$help_text" != *--cuda-arch* ]]; then
  echo "prepare.sh: $sparsec has no CUDA target (--cuda-arch); rebuild it" >&2
  exit 1
fi
"$python" scripts/gpu/make_bundle.py --sparsec "$sparsec" \
  --out "$root/gpu-bundle" "$@"

# The runtime built with this sparsec (build/), else the runtime-only one.
runner="$(dirname "$sparsec")/sparsec-run"
[[ -x "$runner" ]] || runner="$root/build-rt/bin/sparsec-run"
if [[ -x "$runner" ]]; then
  echo "sanity check on the CPU emulator ($runner):"
  "$python" test/gpu/test_model.py --device emulator --models mlp_tiny \
    --runner "$runner"
else
  echo "no sparsec-run built: skipping the emulator sanity check"
fi
du -sh gpu-bundle
