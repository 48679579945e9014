#!/usr/bin/env bash
# Main job: set up, build, then import the bundled example model, compile it
# for the host, run it and compare with onnxruntime.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
exec "$root/.venv/bin/python" "$root/scripts/demo.py" "$@"
