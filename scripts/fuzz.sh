#!/usr/bin/env bash
# sparsec's fuzz targets (docs/Hardening.md, "Fuzzing").
#
#   scripts/fuzz.sh <target|all> [seconds]
#       Builds ./build-fuzz (-DSPARSEC_BUILD_FUZZERS=ON: libFuzzer, ASan and
#       UBSan), replays fuzz/regressions/<target> and fuzz/corpus/<target>,
#       then fuzzes each target for <seconds> (default 60), starting from
#       its committed corpus. New interesting inputs go to
#       build-fuzz/fuzz-corpus/<target>, crashes to
#       build-fuzz/fuzz-findings/<target>/. Exits non-zero on any finding.
#   scripts/fuzz.sh --replay [--build DIR] <target|all>
#       Only replays fuzz/corpus and fuzz/regressions through DIR's
#       bin/sparsec-fuzz-<target> (default ./build-fuzz); ctest runs this as
#       fuzz-regressions in every build.
#
# Targets: npy safetensors artifact onnx-importer mlir prune-config.
# Environment: SPARSEC_JOBS (build parallelism, default 2), FUZZ_TIMEOUT
# (seconds one input may take, default 20), FUZZ_RSS_MB (default 2560),
# FUZZ_SEED (libFuzzer's -seed; 0, the default, lets it pick one and print
# it in the log; CI uses 1 so that a run can be repeated),
# FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=2 -workers=2").
# A crash found: fix it, then copy the crash file to
# fuzz/regressions/<target>/ so every build replays it from then on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
targets_all=(npy safetensors artifact onnx-importer mlir prune-config)

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
replay_only=0
build="$root/build-fuzz"
args=()
while (($#)); do
  case "$1" in
    --replay) replay_only=1 ;;
    --build) shift; build="$(realpath -m "${1:?--build needs a directory}")" ;;
    -h|--help) usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
((${#args[@]} >= 1 && ${#args[@]} <= 2)) || usage
if [[ "${args[0]}" == all ]]; then
  targets=("${targets_all[@]}")
else
  [[ " ${targets_all[*]} " == *" ${args[0]} "* ]] ||
    { echo "fuzz: unknown target '${args[0]}' (${targets_all[*]})" >&2; exit 2; }
  targets=("${args[0]}")
fi
seconds="${args[1]:-60}"

inputs_of() { # target: its committed inputs, one per line
  find "fuzz/regressions/$1" "fuzz/corpus/$1" -type f ! -name '.*' \
    2>/dev/null | sort
}

replay() { # target
  local bin="$build/bin/sparsec-fuzz-$1" files
  [[ -x "$bin" ]] || { echo "fuzz: $bin not built" >&2; return 1; }
  mapfile -t files < <(inputs_of "$1")
  if ((${#files[@]} == 0)); then
    echo "fuzz: $1: no committed inputs"
    return 0
  fi
  # Both the libFuzzer binaries and the replay tools (fuzz/ReplayMain.cpp)
  # run each file named on the command line once.
  if "$bin" "${files[@]}" >"$build/fuzz-replay-$1.log" 2>&1; then
    echo "fuzz: $1: replayed ${#files[@]} inputs"
  else
    tail -60 "$build/fuzz-replay-$1.log" >&2
    echo "fuzz: $1: FAILED replaying its committed inputs" \
      "(log: $build/fuzz-replay-$1.log)" >&2
    return 1
  fi
}

# shellcheck source=scripts/sanitizer-env.sh
source "$root/scripts/sanitizer-env.sh"
if ((replay_only)); then
  failed=0
  for t in "${targets[@]}"; do replay "$t" || failed=1; done
  exit $failed
fi

if ! command -v clang++ >/dev/null; then
  echo "fuzz: needs clang (scripts/setup.sh installs it)" >&2
  exit 1
fi
export CCACHE_BASEDIR="$root"
start=$SECONDS
if [[ ! -f "$build/build.ninja" ]]; then
  python="$root/.venv/bin/python"
  [[ -x "$python" ]] || python="$(command -v python3)"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DPython3_EXECUTABLE="$python" -DSPARSEC_BUILD_TESTS=OFF \
    -DSPARSEC_BUILD_FUZZERS=ON >/dev/null
fi
cmake --build "$build" -j "${SPARSEC_JOBS:-2}" --target sparsec-fuzzers
echo "fuzz: build took $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
  replay "$t" || { failed+=("$t (regressions)"); continue; }
  work="$build/fuzz-corpus/$t" findings="$build/fuzz-findings/$t"
  mkdir -p "$work" "$findings"
  dict=()
  [[ -f "fuzz/dicts/$t.dict" ]] && dict=("-dict=fuzz/dicts/$t.dict")
  seeds=()
  for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
    [[ -d "$d" ]] && seeds+=("$d")
  done
  echo "fuzz: $t for $seconds s"
  log="$build/fuzz-$t.log"
  # MLIR's bytecode reader allocates sizes it reads from the file (upstream,
  # docs/Hardening.md). Release builds cap the address space of the child
  # that probes bytecode; ASan cannot run under such a cap, so here ASan
  # itself refuses allocations over 2 GB, which ends the probe child (an
  # error for the input) before libFuzzer's 2560 MB malloc limit would.
  asan_extra=""
  [[ "$t" == mlir ]] && asan_extra=":max_allocation_size_mb=2048"
  # shellcheck disable=SC2086
  if ASAN_OPTIONS="$ASAN_OPTIONS$asan_extra" \
    "$build/bin/sparsec-fuzz-$t" "$work" "${seeds[@]}" "${dict[@]}" \
    -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-20}" \
    -rss_limit_mb="${FUZZ_RSS_MB:-2560}" -artifact_prefix="$findings/" \
    -seed="${FUZZ_SEED:-0}" \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$log" |
      sed "s/^/fuzz: $t: /"
  else
    tail -80 "$log" >&2
    echo "fuzz: $t: FINDING (log: $log; inputs: $findings/)" >&2
    failed+=("$t")
  fi
done
echo "fuzz: took $((SECONDS - start)) s in all"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: PASS (${targets[*]})"
