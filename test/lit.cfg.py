# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "SPARSEC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "e2e", "CMakeLists.txt", "lit.cfg.py",
                   "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sparsec_obj_root, "test")

llvm_config.use_default_substitutions()
# ASAN_OPTIONS and UBSAN_OPTIONS pass through already (scripts/sanitize.sh).
llvm_config.with_system_environment(["LSAN_OPTIONS"])
tool_dirs = [os.path.join(config.sparsec_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["sparsec", "sparsec-opt", "sparsec-run"], tool_dirs)
if config.sparsec_asan_runtime:
    config.available_features.add("asan")
    # A sanitizer build: the stock mlir-opt loads the instrumented plugin
    # only with the ASan runtime preloaded (docs/Hardening.md).
    from lit.llvm.subst import ToolSubst
    mlir_opt = os.path.join(config.llvm_tools_dir, "mlir-opt")
    llvm_config.add_tool_substitutions(
        [ToolSubst("mlir-opt", command="env LD_PRELOAD=" +
                   config.sparsec_asan_runtime + " " + mlir_opt)])
else:
    llvm_config.add_tool_substitutions(["mlir-opt"], tool_dirs)
config.substitutions.append(("%sparsec_python", config.python_executable))
config.substitutions.append(
    ("%sparsec_plugin", os.path.join(config.sparsec_obj_root, "lib",
                                     "SparsecPlugin.so")))
config.substitutions.append(
    ("%onnxgen", config.python_executable + " " +
     os.path.join(config.sparsec_src_root, "test", "Import", "ONNX", "Inputs",
                  "onnxgen.py")))
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# ptxas (CUDA toolkit) assembles the PTX of the cuda target when present.
import shutil
ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK)
    else None)
# valgrind checks uninstrumented libraries too (not in an ASan build).
if shutil.which("valgrind") and not config.sparsec_asan_runtime:
    config.available_features.add("valgrind")
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
