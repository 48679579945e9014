#!/usr/bin/env bash
# Small-T tuning sweep on a GPU machine: ring depth x split-K for the
# decode-size kernels (4096x4096, T = 16 and 64), next to cuBLAS and
# cuSPARSELt. bench/results/cuda_bench.md traced the small-T times to
# per-step latency; this measures how far depth and splits move them.
#   bash scripts/gpu/small_t_sweep.sh [formats] [tokens]
# defaults: formats "2:4 H75/128 H87.5/128", tokens "16 64". The 64-wide
# token tile makes the swept configuration the launched entry (no `_small`
# variant), so `stages=` applies to it. Writes ${OUT:-gpu-results}/
# small_t_sweep.md (one table per format, T and split count).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${OUT:-$root/gpu-results}"
mkdir -p "$out"
bash scripts/build-runtime.sh > "$out/small_t_build.log" 2>&1
formats="${1:-2:4 H75/128 H87.5/128}"
tokens="${2:-16 64}"
configs="sm_80,tile_n=64,stages=3;sm_80,tile_n=64,stages=4"
configs+=";sm_80,tile_n=64,stages=6;sm_80,tile_n=64,stages=8"
configs+=";sm_90a,wgmma=async,tile_n=64,stages=4"
configs+=";sm_90a,wgmma=async,tile_n=64,stages=6"
result="$out/small_t_sweep.md"
echo "# Small-T sweep (scripts/gpu/small_t_sweep.sh)" > "$result"
for t in $tokens; do
  for format in $formats; do
    # "" = the runtime's own split choice (two CTAs per SM).
    for splits in "" 1 4 8 16; do
      echo "=== $format T=$t splits=${splits:-auto}"
      {
        echo
        echo "## $format, 4096x4096, T=$t, split-K ${splits:-auto}"
        SPARSEC_CUDA_SPLIT_K="$splits" timeout 120 python3 \
          bench/cuda_sweep.py --shape "4096x4096:$t" --format "$format" \
          --configs "$configs" 2>&1 | grep -E '^\|'
      } >> "$result" || echo "  (failed or timed out)" | tee -a "$result"
    done
  done
done
echo "wrote $result"
