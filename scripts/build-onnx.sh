#!/usr/bin/env bash
# Builds the ONNX C++ library (checker, shape inference, protobuf messages)
# that the importer links, once per version, from the source distribution
# on PyPI, and links it at .deps/onnx. Debian 12's libonnx-dev (1.12) knows
# opsets up to 17 only; current exporters write 18 and later.
#
#   scripts/build-onnx.sh        (scripts/setup.sh runs it)
#
# The build is cached outside the checkout, in
# ${SPARSEC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/sparsec}/onnx-<version>-protobuf-<version>,
# so clean clones on the same machine reuse it. It needs Python with pip
# (the project's .venv, for CMake >= 3.26 from PyPI: Debian 12 has 3.25),
# Debian's protobuf compiler and library (the generated code must match the
# library it links), and a C++ compiler.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

onnx_version="1.23.2"
# The sdist's SHA-256 as PyPI lists it: a changed download is an error.
onnx_sha256="008cb0467b2bbee41448acc7da8b6f4e704624cb0d327a2d5adafc7ce19bc5b8"
# The Python package (python/requirements.txt) is the same release: its node
# tests are the ones test/e2e/node_test_data.py writes out.
if ! grep -qx "onnx==$onnx_version" "$root/python/requirements.txt"; then
  echo "build-onnx: python/requirements.txt must pin onnx==$onnx_version" >&2
  exit 1
fi
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "build-onnx: $python missing (run scripts/setup.sh)" >&2; exit 1; }

protobuf_version="$(protoc --version | awk '{print $2}')"
cache="${SPARSEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparsec}"
prefix="$cache/onnx-$onnx_version-protobuf-$protobuf_version"
config="$prefix/lib/cmake/ONNX/ONNXConfig.cmake"

if [ ! -f "$config" ]; then
  echo "build-onnx: building ONNX $onnx_version (against protobuf $protobuf_version) into $prefix"
  start=$SECONDS
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/onnx-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # CMake >= 3.26 (ONNX's minimum) from PyPI, in the venv.
  cmake_bin="$root/.venv/bin/cmake"
  if ! "$cmake_bin" --version >/dev/null 2>&1; then
    "$python" -m pip install -q --disable-pip-version-check "cmake>=3.26,<4"
  fi
  "$python" - "$onnx_version" "$onnx_sha256" "$work/onnx.tar.gz" <<'EOF'
import hashlib, json, sys, urllib.parse, urllib.request
version, sha256, out = sys.argv[1:4]
meta_url = "https://pypi.org/pypi/onnx/json"
with urllib.request.urlopen(meta_url, timeout=60) as response:
    meta = json.load(response)
files = meta.get("releases", {}).get(version, [])
sdists = [u for u in files if u["packagetype"] == "sdist"]
if not sdists:
    sys.exit(f"build-onnx: PyPI lists no source distribution for onnx {version}")
# Some mirrors give the file's address relative to the metadata's.
url = urllib.parse.urljoin(meta_url, sdists[0]["url"])
with urllib.request.urlopen(url, timeout=300) as response:
    data = response.read()
digest = hashlib.sha256(data).hexdigest()
expected = sdists[0]["digests"]["sha256"]
if digest != expected:
    sys.exit(f"build-onnx: {url}: SHA-256 {digest}, PyPI lists {expected}")
if digest != sha256:
    sys.exit(f"build-onnx: {url}: SHA-256 {digest}, this script pins {sha256}")
open(out, "wb").write(data)
EOF
  tar -xzf "$work/onnx.tar.gz" -C "$work"
  # Static and position-independent: linked into libsparsec_capi.so and the
  # Python module as well as the tools. ONNX_ML: the ai.onnx.ml domain's
  # messages, as Debian's build has them.
  "$cmake_bin" -S "$work/onnx-$onnx_version" -B "$work/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF \
    -DONNX_USE_PROTOBUF_SHARED_LIBS=ON -DONNX_ML=ON \
    -DONNX_BUILD_TESTS=OFF -DONNX_BUILD_PYTHON=OFF >"$work/configure.log" 2>&1 ||
    { tail -40 "$work/configure.log" >&2; exit 1; }
  "$cmake_bin" --build "$work/build" -j "${SPARSEC_JOBS:-2}" >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log" >&2; exit 1; }
  "$cmake_bin" --install "$work/build" >/dev/null
  echo "build-onnx: done in $((SECONDS - start)) s"
fi

mkdir -p .deps
ln -sfn "$prefix" .deps/onnx
