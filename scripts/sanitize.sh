#!/usr/bin/env bash
# The sanitizer job (docs/Hardening.md): builds sparsec's own code with
# AddressSanitizer and UndefinedBehaviorSanitizer in ./build-asan and runs the
# whole ctest suite (lit, unit tests, end-to-end Python tests, fuzz
# regressions) under them. Any report fails it, even in a test that expected
# its command to fail: reports abort, and every report is also written to
# build-asan/sanitizer-logs/, which must stay empty.
#
#   scripts/sanitize.sh [ctest arguments...]     e.g. -R lit
#
# Needs what scripts/setup.sh installs (run it, or scripts/test.sh, first).
# SPARSEC_JOBS sets the build's parallelism (default 2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build-asan"

if [[ ! -x .venv/bin/python ]] || ! command -v clang++ >/dev/null; then
  echo "sanitize: run scripts/setup.sh first" >&2
  exit 1
fi

export CCACHE_BASEDIR="$root"
start=$SECONDS
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DPython3_EXECUTABLE="$root/.venv/bin/python" \
    -DSPARSEC_SANITIZE=address,undefined >/dev/null
fi
cmake --build "$build" -j "${SPARSEC_JOBS:-2}"
echo "sanitize: build took $((SECONDS - start)) s"

logs="$build/sanitizer-logs"
rm -rf "$logs"
export SANITIZER_LOG_DIR="$logs"
# shellcheck source=scripts/sanitizer-env.sh
source "$root/scripts/sanitizer-env.sh"
echo "sanitize: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "sanitize: UBSAN_OPTIONS=$UBSAN_OPTIONS"

start=$SECONDS
status=0
(cd "$build" && ctest --output-on-failure -j 2 "$@") || status=$?
echo "sanitize: tests took $((SECONDS - start)) s"

reports=$(find "$logs" -type f 2>/dev/null | sort)
if [[ -n "$reports" ]]; then
  echo "sanitize: $(echo "$reports" | wc -l) sanitizer report(s):" >&2
  for f in $reports; do
    echo "=== $f" >&2
    cat "$f" >&2
  done
  status=1
fi
if [[ $status != 0 ]]; then
  echo "sanitize: FAILED" >&2
  exit "$status"
fi
echo "sanitize: PASS (no sanitizer report)"
