#!/usr/bin/env bash
# Set up, build, then run the whole test suite (lit, unit tests, Python
# end-to-end tests, ONNX backend node tests) through ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root/build"
ctest --output-on-failure -j 2 "$@"
