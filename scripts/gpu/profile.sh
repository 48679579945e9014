#!/usr/bin/env bash
# Nsight Compute profile of sparsec's default kernels on a GPU machine (the
# next step named in bench/results/cuda_bench.md): per-instruction source
# counters (L2 sectors and requests per load), memory tables and warp stalls
# for 2:4 and HiNM 87.5 % at 4096x4096, T = 8192.
#   bash scripts/gpu/profile.sh [extra cuda_sweep.py configs]
# Writes ${OUT:-gpu-results}/ncu_profile.txt. Clocks are left alone
# (--clock-control none), as the device notes ask.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${OUT:-$root/gpu-results}"
mkdir -p "$out"
bash scripts/build-runtime.sh > "$out/profile_build.log" 2>&1
configs="${1:-sm_90a;sm_80}"
for format in 2:4 H87.5/128; do
  echo "=== $format: $configs"
  timeout 240 ncu --clock-control none -k regex:sweep \
    --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables \
    --section SourceCounters --section WarpStateStats \
    python3 bench/cuda_sweep.py --shape 4096x4096:8192 --format "$format" \
      --no-time --configs "$configs"
done > "$out/ncu_profile.txt" 2>&1
grep -E "sweep_|L2 Cache Throughput|Uncoalesced|Excessive" "$out/ncu_profile.txt" | head -40
