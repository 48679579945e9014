"""The current ONNX release's backend node tests, written out as test data.

Debian's libonnx-testdata holds ONNX 1.12's node tests (opsets up to 17). The node
tests of the ONNX the project's Python environment has (the release scripts/build-onnx.sh
builds the C++ library of) come with its Python package as generators only
(onnx.backend.test.case.node): this module runs them once and writes every case in the
usual layout (<name>/model.onnx, <name>/test_data_set_<i>/{input,output}_<j>.pb) under
build/onnx-node-tests/<version>/node. The expected outputs are ONNX's own (its numpy
reference implementations), not sparsec's.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
DEFAULT_BASE = HERE.parents[1] / "build" / "onnx-node-tests"


def current_node_test_root(base: Path | None = None) -> Path:
    """The node-test folder for the installed onnx package, generated on first use."""
    base = Path(os.environ.get("SPARSEC_NODE_TEST_CACHE", base or DEFAULT_BASE))
    root = base / onnx.__version__ / "node"
    marker = root / ".complete"
    if marker.exists():
        return root
    from onnx.backend.test.case import node  # imports every generator: slow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators' numpy warnings (inf, nan)
        cases = [c for c in node.collect_testcases(None) if c.kind == "node" and c.model]
    root.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so that an interrupted run leaves no half folder.
    tmp = Path(tempfile.mkdtemp(prefix="node.", dir=root.parent))
    for case in cases:
        case_dir = tmp / case.name
        case_dir.mkdir()
        (case_dir / "model.onnx").write_bytes(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets or []):
            data_dir = case_dir / f"test_data_set_{i}"
            data_dir.mkdir()
            for prefix, values, infos in (("input", inputs, case.model.graph.input),
                                          ("output", outputs, case.model.graph.output)):
                for j, value in enumerate(values):
                    name = infos[j].name if j < len(infos) else f"{prefix}_{j}"
                    if isinstance(value, onnx.TensorProto):
                        proto = value
                    else:
                        try:
                            proto = numpy_helper.from_array(value, name)
                        except Exception:  # sequences, maps, optionals: not tensors
                            continue
                    (data_dir / f"{prefix}_{j}.pb").write_bytes(proto.SerializeToString())
    (tmp / ".complete").write_text(f"{len(cases)} cases from onnx {onnx.__version__}\n")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return root


if __name__ == "__main__":
    print(current_node_test_root())
