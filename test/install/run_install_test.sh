#!/usr/bin/env bash
# The CMake package end to end: installs BUILD_DIR to a temporary prefix,
# builds test/install/consumer (a project outside sparsec) against it with
# find_package(Sparsec), runs the consumers and checks the C API's results
# against numpy.
#
#   test/install/run_install_test.sh BUILD_DIR
#
# Environment: PYTHON (with numpy; default python3), CMAKE (default cmake),
# NINJA (default ninja), MLIR_OPT (the stock mlir-opt for the plugin check;
# default /usr/lib/llvm-22/bin/mlir-opt, skipped if absent), KEEP_TMP=1 to
# keep the temporary directory; SPARSEC_TEST_PRELOAD, CC, CXX in sanitizer
# builds (test/CMakeLists.txt). ctest runs it as `install-package`.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3}
CMAKE=${CMAKE:-cmake}
NINJA=${NINJA:-ninja}
MLIR_OPT=${MLIR_OPT:-/usr/lib/llvm-22/bin/mlir-opt}
# Sanitizer builds (docs/Hardening.md): the uninstrumented mlir-opt loads the
# instrumented plugin only with the sanitizer runtime preloaded.
preload=()
if [[ -n "${SPARSEC_TEST_PRELOAD:-}" ]]; then
  preload=(env "LD_PRELOAD=$SPARSEC_TEST_PRELOAD")
fi
MODEL=$SRC_DIR/test/tools/Inputs/linear.mlir

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sparsec-install-test.XXXXXX")
cleanup() {
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
prefix=$tmp/prefix

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

step "install $BUILD_DIR to $prefix"
"$CMAKE" --install "$BUILD_DIR" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }

for f in lib/cmake/sparsec/SparsecConfig.cmake \
  lib/cmake/sparsec/SparsecConfigVersion.cmake \
  lib/cmake/sparsec/SparsecTargets.cmake \
  lib/libsparsec_capi.so lib/libsparsec_runtime.so lib/SparsecPlugin.so \
  lib/libSparsecCompiler.a lib/libSparsecRegistration.a \
  bin/sparsec bin/sparsec-opt bin/sparsec-run \
  include/sparsec-c/Compiler.h include/sparsec-c/Runtime.h \
  include/sparsec/InitAll.h \
  include/sparsec/Dialect/Sparsec/IR/SparsecOps.h.inc \
  include/sparsec/Dialect/Sparsec/Transforms/Passes.h.inc; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done

# Every installed binary finds its shared libraries (libMLIR.so through the
# RUNPATH, the rest on the default path).
for f in lib/libsparsec_capi.so lib/libsparsec_runtime.so lib/SparsecPlugin.so \
  bin/sparsec bin/sparsec-opt bin/sparsec-run; do
  # ldd's output is captured first: `ldd | grep -q` under pipefail fails at
  # random when grep exits before ldd has written everything (SIGPIPE).
  libs=$(ldd "$prefix/$f")
  if grep -q "not found" <<<"$libs"; then
    echo "$libs" >&2
    fail "$f: unresolved shared libraries"
  fi
done
version=$("$prefix/bin/sparsec" --version)
grep -q "^sparsec " <<<"$version" ||
  fail "installed sparsec --version"

if [[ -x "$MLIR_OPT" ]]; then
  step "the stock mlir-opt loads the installed plugin"
  "${preload[@]}" "$MLIR_OPT" "$MODEL" \
    --load-dialect-plugin="$prefix/lib/SparsecPlugin.so" \
    --load-pass-plugin="$prefix/lib/SparsecPlugin.so" \
    --pass-pipeline="builtin.module(sparsec-lower-to-linalg)" >"$tmp/plugin.mlir"
  grep -q "linalg\." "$tmp/plugin.mlir" && ! grep -q "sparsec\.linear" "$tmp/plugin.mlir" ||
    { cat "$tmp/plugin.mlir" >&2; fail "plugin did not lower sparsec.linear"; }
fi

step "configure and build test/install/consumer against the prefix"
# CMAKE_PREFIX_PATH only: the consumer must find the package the way users do,
# and nothing from the source or build tree.
"$CMAKE" -G Ninja -S "$SRC_DIR/test/install/consumer" -B "$tmp/consumer" \
  -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
  >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; fail "configuring the consumer"; }
grep -q "Using SparsecConfig.cmake in: $prefix/lib/cmake/sparsec" \
  "$tmp/configure.log" || { cat "$tmp/configure.log" >&2;
  fail "the consumer did not use the installed package"; }
"$NINJA" -C "$tmp/consumer" -j2 >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building the consumer"; }
if grep -q -e "$SRC_DIR/include" -e "$BUILD_DIR" "$tmp/consumer/build.ninja"; then
  fail "the consumer's build refers to the sparsec source or build tree"
fi
libs=$(ldd "$tmp/consumer/capi_consumer")
grep -q "libsparsec_capi.so => $prefix/lib/" <<<"$libs" ||
  { echo "$libs" >&2;
  fail "capi_consumer does not load the installed libsparsec_capi.so"; }

step "run the consumers"
"$tmp/consumer/runtime_consumer"
"$tmp/consumer/compiler_consumer"
"$tmp/consumer/capi_consumer" "$MODEL" - >"$tmp/dense.txt" ||
  fail "capi_consumer (dense)"
"$tmp/consumer/capi_consumer" "$MODEL" "sparsity=nm:n=2,m=4" >"$tmp/nm24.txt" ||
  fail "capi_consumer (nm:n=2,m=4)"
cat "$tmp/dense.txt" "$tmp/nm24.txt"
# The report names each layer's kernel when it is given the target.
grep -q "^kernel gemm dense" "$tmp/dense.txt" ||
  fail "capi_consumer's report has no kernel for the dense layer"

step "check the outputs against numpy"
"$PYTHON" - "$MODEL" "$tmp/dense.txt" "$tmp/nm24.txt" <<'EOF'
import json, re, sys
import numpy as np

model, dense_out, nm_out = sys.argv[1:]

# The weight of the model's single sparsec.linear (y = x W^T), read from the
# file's dense literal.
text = open(model).read()
w = np.array(json.loads(re.search(r"dense<(\[\[.*?\]\])>", text, re.S).group(1)),
             dtype=np.float32)
assert w.shape == (4, 8), w.shape

def parse(path):
    inputs, outputs = [], []
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        f = line.split()
        if f[:1] == ["input"]:
            inputs.append((f[2], tuple(int(d) for d in f[3].split("x"))))
        elif f[:1] == ["output"]:
            values = lines[i + 1].split()
            assert values[0] == "values", lines[i + 1]
            shape = tuple(int(d) for d in f[3].split("x"))
            outputs.append(np.array([float(v) for v in values[1:]],
                                    dtype=np.float32).reshape(shape))
    return inputs, outputs

def make_input(shape):
    # main.c's input_value(j), element j in C order.
    j = np.arange(int(np.prod(shape)))
    return (((j * 7) % 11 - 5) * 0.25).astype(np.float32).reshape(shape)

def prune_nm(w, n, m):
    # N:M along K (each row's columns qM .. qM+M-1): keep the N largest |w|,
    # the earlier column on ties (docs/Pruning.md).
    kept = np.zeros_like(w)
    for r in range(w.shape[0]):
        for q in range(0, w.shape[1], m):
            group = np.abs(w[r, q:q + m])
            keep = np.argsort(-group, kind="stable")[:n]
            kept[r, q + keep] = w[r, q + keep]
    return kept

ok = True
for path, weight, name in [(dense_out, w, "dense"),
                           (nm_out, prune_nm(w, 2, 4), "nm:n=2,m=4")]:
    inputs, outputs = parse(path)
    assert inputs == [("<f4", (2, 8))], inputs
    assert len(outputs) == 1 and outputs[0].shape == (2, 4), outputs
    x = make_input((2, 8))
    expected = x.astype(np.float64) @ weight.T.astype(np.float64)
    err = np.max(np.abs(outputs[0] - expected))
    good = np.allclose(outputs[0], expected, rtol=1e-5, atol=1e-5)
    print(f"{name}: max abs error {err:.3g} {'ok' if good else 'MISMATCH'}")
    if not good:
        print("expected", expected.ravel().tolist())
        print("got     ", outputs[0].ravel().tolist())
        ok = False
# The pruned model must differ from the dense one, or compression did nothing.
assert np.abs(parse(dense_out)[1][0] - parse(nm_out)[1][0]).max() > 0.1
sys.exit(0 if ok else 1)
EOF

echo "install-package: PASS"
