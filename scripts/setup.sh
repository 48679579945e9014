#!/usr/bin/env bash
# Installs what sparsec needs on Debian 12 (idempotent), then configures and
# builds it in ./build. Python packages go into ./.venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

apt_packages=(
  build-essential cmake ninja-build ccache clang git
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools libomp-22-dev
  libonnx-testdata libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libeigen3-dev valgrind
  python3 python3-venv python3-pip
  # --target=neon: the AArch64 cross toolchain and sysroot, qemu-aarch64
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --target=neon links model.so against an AArch64 libomp. Installing
# Debian's libomp5-19:arm64 would replace the host's libomp (one file list
# for both architectures), so its package is only unpacked into .deps/.
# Downloading it needs the arm64 package index: the architecture is added
# to dpkg (no arm64 package gets installed).
arm64_omp=".deps/aarch64-linux-gnu/usr/lib/aarch64-linux-gnu/libomp.so.5"
if [ ! -e "$arm64_omp" ]; then
  echo "setup: unpacking Debian's AArch64 libomp into .deps/"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo_cmd dpkg --add-architecture arm64
    $sudo_cmd apt-get update -qq
  fi
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -qq libomp5-19:arm64 2>/dev/null)
  mkdir -p .deps/aarch64-linux-gnu
  dpkg -x "$tmp"/libomp5-19_*_arm64.deb .deps/aarch64-linux-gnu
  rm -rf "$tmp"
fi

# Debian's system Python is externally managed: use a project venv.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
if ! .venv/bin/python -c "import onnx, onnxruntime, numpy, pytest, sklearn" 2>/dev/null; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check \
    -r "$root/python/requirements.txt"
fi

# A current ONNX C++ library (checker, shape inference), built once per
# version from PyPI's source distribution and cached (scripts/build-onnx.sh).
"$root/scripts/build-onnx.sh"

# Paths relative to the checkout, so clones share the compiler cache.
export CCACHE_BASEDIR="$root"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DPython3_EXECUTABLE="$root/.venv/bin/python" >/dev/null
fi
cmake --build build -j "${SPARSEC_JOBS:-2}"
