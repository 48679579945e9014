#!/usr/bin/env bash
# Builds the MLIR-free runtime (libsparsec_runtime.so, sparsec-run and, when
# GTest is installed, SparsecRuntimeTests) without LLVM/MLIR, e.g. on a GPU
# machine. Usage: scripts/build-runtime.sh [BUILD_DIR] [--test]
# BUILD_DIR defaults to build-rt; --test also runs the unit tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-rt"
run_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) run_tests=1 ;;
    -h|--help) sed -n '2,5p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) build="$(realpath -m "$arg")" ;;
  esac
done

if command -v ninja >/dev/null 2>&1; then
  generator=Ninja
else
  generator="Unix Makefiles"
fi
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# A build dir configured with another generator cannot be reused.
cache="$build/CMakeCache.txt"
if [[ -f "$cache" ]] &&
   ! grep -q "CMAKE_GENERATOR:INTERNAL=$generator\$" "$cache"; then
  rm -rf "$cache" "$build/CMakeFiles"
fi
cmake -S "$root" -B "$build" -G "$generator" -DSPARSEC_RUNTIME_ONLY=ON \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}"
cmake --build "$build" -j "$jobs"
echo "built: $build/lib/libsparsec_runtime.so $build/bin/sparsec-run"
if [[ "$run_tests" == 1 ]]; then
  if [[ -x "$build/bin/SparsecRuntimeTests" ]]; then
    "$build/bin/SparsecRuntimeTests"
  else
    echo "GTest not found: no unit tests to run" >&2
  fi
fi
