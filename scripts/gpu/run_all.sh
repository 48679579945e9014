#!/usr/bin/env bash
# The GPU checks and the benchmark in one command, for a GPU machine without
# LLVM/MLIR (docs/GPUChecks.md). Needs gpu-bundle/ from scripts/gpu/prepare.sh
# for the model checks.
#
#   bash scripts/gpu/run_all.sh [checks|bench|all]      (default: all)
#
#   checks: build the runtime; test/gpu/mma_oracle.cu (T1/T2), test_kernels.py
#           (T3/T4, every kernel variant), test_model.py (bundle models),
#           then, with the time left, test_kernels.py --small under
#           compute-sanitizer memcheck and racecheck
#   bench:  build the runtime; bench/cuda_bench.py
#   all:    both, inside ~9 minutes (the benchmark gets what is left)
#
# Results go to ${OUT:-gpu-results} (at most 7 files, flat): run_all.log,
# summary.md, mma_oracle.json, test_kernels.json, test_model.json,
# cuda_bench.md, cuda_bench.json. Every part runs even when an earlier one
# fails; the exit status is non-zero if any part failed.
# Budgets (seconds) can be overridden: BUDGET_TOTAL, BUDGET_KERNELS,
# BUDGET_MODELS; BENCH_ARGS gives cuda_bench.py's extra options (default
# --auto-wgmma --m128: also the columns of the compiler's sm_90a default and
# of the mma.sp kernel with 128-row tiles).
# DEVICE=emulator is a dry run of the plumbing without a GPU: the oracle
# checks its host logic (--simulate), the Python parts use the CPU emulator.
set -uo pipefail

mode="${1:-all}"
case "$mode" in checks|bench|all) ;; *)
  echo "usage: $0 [checks|bench|all]" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
out="${OUT:-$root/gpu-results}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/run_all.log"
summary="$out/summary.md"
parts="$(mktemp -d)"
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
bundle="${BUNDLE:-$root/gpu-bundle}"
dry=()
oracle_flags=()
if [[ "$device" == emulator ]]; then
  dry=(--device emulator --small)
  oracle_flags=(--simulate)
fi
start=$SECONDS
budget_total="${BUDGET_TOTAL:-520}"
exec > >(tee -a "$log") 2>&1
tee_pid=$!

declare -a status_lines=()
failed=0
note() { # name, exit status
  local verdict=PASS
  if [[ "$2" != 0 ]]; then verdict="FAIL (exit $2)"; failed=1; fi
  status_lines+=("- $1: $verdict ($(( SECONDS - part_start )) s)")
  echo "=== $1: $verdict"
}
left() { echo $(( budget_total - (SECONDS - start) )); }

commit="$(git rev-parse --short HEAD 2>/dev/null || echo 'unknown (no .git)')"
echo "=== run_all.sh $mode, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | head -3
nvcc --version 2>&1 | tail -1
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cusparselt", torch.backends.cusparselt.is_available())' 2>&1 | tail -1

part_start=$SECONDS
echo "=== build the runtime (scripts/build-runtime.sh)"
timeout -k 10 300 bash scripts/build-runtime.sh > "$parts/build.log" 2>&1
rc=$?
tail -3 "$parts/build.log"
[[ $rc != 0 ]] && cat "$parts/build.log"
note "runtime build" $rc
runtime_ok=$rc

if [[ "$mode" != bench ]]; then
  part_start=$SECONDS
  echo "=== mma_oracle (gpu.md §7 T1/T2)"
  mkdir -p build-rt
  rm -f build-rt/mma_oracle
  nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a \
    -gencode=arch=compute_80,code=sm_80 test/gpu/mma_oracle.cu \
    -o build-rt/mma_oracle 2>&1 | grep -v Advisory
  if [[ -x build-rt/mma_oracle ]]; then
    timeout -k 10 120 build-rt/mma_oracle "${oracle_flags[@]}" "$out/mma_oracle.json" \
      > "$parts/oracle.log" 2>&1
    rc=$?
    cat "$parts/oracle.log"
  else
    echo "mma_oracle did not compile"; rc=1
  fi
  note "mma_oracle (T1/T2 brute-force layouts)" $rc
  grep -E '^(FAIL|INFO|SKIP)|CUDA error|passed, ' "$parts/oracle.log" \
    > "$parts/oracle.txt" 2>/dev/null

  part_start=$SECONDS
  echo "=== test_kernels.py (every kernel variant vs fp64 reference)"
  if [[ $runtime_ok == 0 ]]; then
    kb="${BUDGET_KERNELS:-$([[ $mode == all ]] && echo 170 || echo 200)}"
    timeout -k 10 $(( kb + 120 )) "$python" test/gpu/test_kernels.py \
      --time-budget "$kb" --json "$out/test_kernels.json" \
      --md "$parts/kernels.md" "${dry[@]}" > "$parts/kernels.log" 2>&1
    rc=$?
    grep -v '^PASS' "$parts/kernels.log"
  else rc=1; fi
  note "test_kernels (T3/T4)" $rc

  part_start=$SECONDS
  echo "=== test_model.py (bundle models vs onnxruntime)"
  if [[ $runtime_ok == 0 && -f "$bundle/bundle.json" ]]; then
    mb="${BUDGET_MODELS:-90}"
    timeout -k 10 $(( mb + 120 )) "$python" test/gpu/test_model.py \
      --bundle "$bundle" --time-budget "$mb" --json "$out/test_model.json" --md "$parts/models.md" \
      ${dry:+--device emulator --models mlp_tiny}
    rc=$?
  else
    echo "no runtime or no $bundle/bundle.json (carry gpu-bundle)"; rc=1
  fi
  note "test_model (whole models)" $rc
fi

if [[ "$mode" == checks && "$device" == cuda ]]; then
  for tool in memcheck racecheck; do
    part_start=$SECONDS
    if ! command -v compute-sanitizer >/dev/null; then
      echo "=== compute-sanitizer not found: skipping $tool"; continue
    fi
    if (( $(left) < 70 )); then
      echo "=== no time left for compute-sanitizer $tool"; continue
    fi
    echo "=== compute-sanitizer --tool $tool test_kernels.py --small"
    limit=$(( $(left) - 20 ))
    [[ $tool == memcheck ]] && limit=$(( limit / 2 ))
    timeout -k 10 "$limit" compute-sanitizer --tool "$tool" \
      --error-exitcode 3 --print-limit 20 "$python" test/gpu/test_kernels.py \
      --small > "$parts/$tool.log" 2>&1
    rc=$?
    grep -E '=========|^FAIL|test_kernels:' "$parts/$tool.log" | head -40
    # exit 1 = wrong results, which test_kernels already reports: here only
    # the sanitizer's own verdict counts.
    if [[ $rc == 1 ]] && grep -qE 'ERROR SUMMARY: 0 errors|SUMMARY: 0 hazards' "$parts/$tool.log"
    then rc=0; fi
    note "compute-sanitizer $tool (small kernels)" $rc
  done
fi

if [[ "$mode" != checks ]]; then
  part_start=$SECONDS
  bb=$(( $(left) - 30 ))
  echo "=== cuda_bench.py (time budget ${bb} s)"
  if [[ $runtime_ok == 0 && $bb -gt 60 ]]; then
    # shellcheck disable=SC2086
    timeout -k 10 $(( bb + 40 )) "$python" bench/cuda_bench.py \
      --time-budget "$bb" --out "$out/cuda_bench.md" \
      --json "$out/cuda_bench.json" "${dry[@]}" ${BENCH_ARGS:---auto-wgmma --m128} \
      > "$parts/bench.log" 2>&1
    rc=$?
    grep -vE '^(\||#|$|- |Floor|Columns|\(weight|Ceilings|Total|wrote)' \
      "$parts/bench.log" | tail -n 60
  else
    echo "skipped: runtime build failed or no time left"; rc=1
  fi
  note "cuda_bench" $rc
fi

{
  echo "# GPU run summary ($mode)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit; $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1); total $(( SECONDS - start )) s"
  echo
  printf '%s\n' "${status_lines[@]}"
  echo
  if [[ -s "$parts/oracle.txt" ]]; then
    echo "## mma_oracle: failures and observations"; echo
    sed 's/^/    /' "$parts/oracle.txt"; echo
  fi
  for f in kernels.md models.md; do [[ -f "$parts/$f" ]] && cat "$parts/$f" && echo; done
  if [[ -f "$out/cuda_bench.md" ]]; then
    sed -n '/^### Speedup vs cuBLAS/,/^### Dense/p' "$out/cuda_bench.md" | sed '$d'
    sed -n '/^## Targets/,$p' "$out/cuda_bench.md"
  fi
} > "$summary"

echo
echo "=================== SUMMARY ($(( SECONDS - start )) s) ==================="
printf '%s\n' "${status_lines[@]}"
[[ -s "$parts/oracle.txt" ]] && { echo "mma_oracle:"; head -20 "$parts/oracle.txt"; }
for f in kernels.md models.md; do
  [[ -f "$parts/$f" ]] && grep -E '^(Device|- `)' "$parts/$f" | head -12
done
[[ -f "$out/cuda_bench.md" ]] && sed -n '/^## Targets/,/^Ceilings/p' "$out/cuda_bench.md" | grep '^|' | cut -c1-160
echo "results: $(ls "$out" | tr '\n' ' ')"
rm -rf "$parts"
exec >&- 2>&-
wait "$tee_pid" 2>/dev/null
exit $failed
