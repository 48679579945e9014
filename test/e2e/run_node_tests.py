#!/usr/bin/env python3
"""Run the ONNX backend node tests whose ops sparsec claims to support.

Two data sets (--data): `debian` (default), Debian's libonnx-testdata (ONNX 1.12, opsets up
to 17), and `current`, the node tests of the installed onnx package (node_test_data.py writes
them out; opsets up to that release's newest). Each has its own expected-pass list and record.

Selects every test dir under the data set whose graph uses only supported op types
(default domain) and opset <= its newest, runs `sparsec model.onnx --run`, compares with output_*.pb
(rtol=1e-3, atol=1e-5 like the ONNX backend; ints/bools exactly), prints a table and writes it
as markdown.

Graph inputs that feed shape/axes operands (Reshape shape, Slice starts/ends/axes/steps,
Unsqueeze/Squeeze axes, Reduce* axes, Dropout ratio/training_mode, Trilu k, CumSum axis,
Col2Im image and block shapes) are baked into initializers with the test's values, since sparsec compiles static shapes only (--no-bake to feed them at run time);
such rows are marked "[baked ...]".

Tests whose inputs/outputs use dtypes outside the CLI contract (float32, float64, int64, int32,
bool) are listed as SKIP unless --all-dtypes is given.

Usage:
  python3 test/e2e/run_node_tests.py [--data debian|current] [--filter SUBSTR] [--jobs 2] [--timeout 60]
      [--record PATH] [--update-expected] [--all-dtypes] [--min-opset N] [--no-bake] [--list]
Exit code: 0, or 1 if a test in the data set's expected-pass list did not pass, 2 if no binary.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sparsec_cli import (REPO_ROOT, compare, display_path,  # noqa: E402
                         missing_binary_message, run_model, sparsec_bin)

NODE_TEST_ROOT = Path(os.environ.get("ONNX_NODE_TEST_ROOT",
                                     "/usr/share/libonnx-testdata/data/node"))
DEFAULT_RECORD = HERE / "node_test_results.md"
EXPECTED_FILE = HERE / "node_tests_expected_pass.txt"
MAX_OPSET = 17


@dataclass
class DataSet:
    """A node-test data set: where it is, its newest opset, its expected and record files."""
    name: str
    max_opset: int
    expected: Path
    record: Path

    def root(self) -> Path:
        if self.name == "debian":
            return NODE_TEST_ROOT
        from node_test_data import current_node_test_root
        return current_node_test_root()


DATA_SETS = {
    "debian": DataSet("debian", MAX_OPSET, EXPECTED_FILE, DEFAULT_RECORD),
    "current": DataSet("current", onnx.defs.onnx_opset_version(),
                       HERE / "node_tests_expected_pass_current.txt",
                       HERE / "node_test_results_current.md"),
}
RTOL, ATOL = 1e-3, 1e-5
TIMEOUT_S = 60
# Candidates that cannot be compared deterministically (listed as SKIP).
UNTESTABLE = {
    n: "training-mode Dropout draws a random mask"
    for n in ("test_training_dropout", "test_training_dropout_default",
              "test_training_dropout_default_mask", "test_training_dropout_mask")
}

SUPPORTED_OPS = frozenset("""
MatMul Gemm Conv BatchNormalization Relu Clip Sigmoid Tanh Erf Add Sub Mul Div Pow Sqrt Reshape
Flatten Transpose Concat Slice Gather Softmax LayerNormalization ReduceMean MaxPool AveragePool
GlobalAveragePool Unsqueeze Squeeze Identity Constant Shape Exp Log Neg Abs Reciprocal Dropout Cast
Gelu RMSNormalization ReduceSum ReduceMax ReduceMin ReduceProd GlobalMaxPool LogSoftmax LeakyRelu
HardSigmoid HardSwish Softplus Elu Sin Cos Floor Ceil Max Min Sum Equal Less LessOrEqual Greater
GreaterOrEqual And Or Xor Not Where Expand Size ConstantOfShape Range Split Pad CastLike Mod Trilu GatherElements ArgMax ArgMin CumSum Resize Col2Im
Shrink
""".split())
SUPPORTED_DTYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64,
                              TensorProto.INT32, TensorProto.BOOL})


@dataclass
class Case:
    name: str
    dir: Path
    ops: List[str]
    opset: int
    skip_reason: Optional[str] = None


@dataclass
class Result:
    name: str
    ops: str
    status: str  # PASS / FAIL / ERROR / SKIP
    detail: str
    seconds: float


def _value_dtypes(vals) -> List[int]:
    out = []
    for v in vals:
        t = v.type
        out.append(t.tensor_type.elem_type if t.HasField("tensor_type") else -1)
    return out


def _is_function(op: str, opset: int) -> bool:
    """Whether ONNX defines `op` as a function at `opset`: the importer expands such ops
    with ONNX's inliner (ONNXLoader.cpp expandFunctionOps), so their tests are candidates;
    a body that uses an op sparsec lacks shows up as an ERROR."""
    try:
        schema = onnx.defs.get_schema(op, opset, "")
    except onnx.defs.SchemaError:
        return False
    return schema.has_function or schema.has_context_dependent_function


def discover(root: Optional[Path] = None, all_dtypes: bool = False,
             min_opset: int = 1, max_opset: int = MAX_OPSET) -> List[Case]:
    """Node-test dirs whose op types are all supported (imported or expanded from their ONNX
    function definitions) and whose opset is <= max_opset."""
    root = NODE_TEST_ROOT if root is None else root
    if not root.is_dir():
        raise FileNotFoundError(f"ONNX node-test data not found at {root} (install "
                                f"libonnx-testdata or set ONNX_NODE_TEST_ROOT)")
    cases = []
    for d in sorted(p for p in root.iterdir() if (p / "model.onnx").exists()):
        m = onnx.load(str(d / "model.onnx"), load_external_data=False)
        ops = sorted({n.op_type for n in m.graph.node})
        if any(n.domain not in ("", "ai.onnx") for n in m.graph.node):
            continue
        opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
        if not all(op in SUPPORTED_OPS or _is_function(op, opset) for op in ops):
            continue
        if opset > max_opset or opset < min_opset:
            continue
        case = Case(d.name, d, ops, opset)
        bad = sorted({TensorProto.DataType.Name(t) if t >= 0 else "non-tensor"
                      for t in _value_dtypes(list(m.graph.input) + list(m.graph.output))
                      if t not in SUPPORTED_DTYPES})
        if bad and not all_dtypes:
            case.skip_reason = "dtype " + ",".join(bad)
        if d.name in UNTESTABLE:
            case.skip_reason = UNTESTABLE[d.name]
        cases.append(case)
    return cases


def _load_pbs(data_dir: Path, prefix: str) -> List[np.ndarray]:
    files = sorted(data_dir.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    arrays = []
    for f in files:
        t = TensorProto()
        t.ParseFromString(f.read_bytes())
        arrays.append(numpy_helper.to_array(t))
    return arrays


# Operand positions that a static-shape compiler needs as constants. With bake=True (default),
# graph inputs feeding them are turned into initializers holding the test's input values.
SHAPE_OPERANDS = {"Reshape": {1}, "Slice": {1, 2, 3, 4}, "Unsqueeze": {1}, "Squeeze": {1},
                  "Dropout": {1, 2}, "ReduceMean": {1}, "ReduceSum": {1}, "ReduceMax": {1},
                  "ReduceMin": {1}, "ReduceProd": {1}, "Split": {1}, "Pad": {1, 2, 3},
                  "Trilu": {1}, "CumSum": {1}, "Resize": {1, 2, 3}, "Col2Im": {1, 2},
                  "ReduceL1": {1}, "ReduceL2": {1}, "ReduceLogSum": {1},
                  "ReduceLogSumExp": {1}, "ReduceSumSquare": {1}, "CenterCropPad": {1}}


def bake_shape_inputs(model: onnx.ModelProto, inputs: List[np.ndarray]):
    """Move graph inputs used as shape/axes operands into initializers.
    Returns (model, remaining inputs, baked input names)."""
    inits = {t.name for t in model.graph.initializer}
    graph_in = [v for v in model.graph.input if v.name not in inits]
    wanted = {n.input[i] for n in model.graph.node
              for i in SHAPE_OPERANDS.get(n.op_type, ()) if i < len(n.input) and n.input[i]}
    baked = [v.name for v in graph_in if v.name in wanted]
    if not baked:
        return model, inputs, []
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep, rest = [], []
    for v, a in zip(graph_in, inputs):
        if v.name in wanted:
            m.graph.initializer.append(numpy_helper.from_array(a, v.name))
        else:
            keep.append(v)
            rest.append(a)
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return m, rest, baked


def run_case(case: Case, timeout: float = TIMEOUT_S, bake: bool = True) -> Result:
    """Run one node test through sparsec and compare every output."""
    ops = ",".join(case.ops)
    if case.skip_reason:
        return Result(case.name, ops, "SKIP", case.skip_reason, 0.0)
    t0 = time.monotonic()
    data = case.dir / "test_data_set_0"
    inputs = _load_pbs(data, "input")
    expected = _load_pbs(data, "output")
    model_path = case.dir / "model.onnx"
    with tempfile.TemporaryDirectory(prefix=f"nt_{case.name}_") as tmp:
        baked: List[str] = []
        if bake:
            model, inputs, baked = bake_shape_inputs(onnx.load(str(model_path)), inputs)
            if baked:
                model_path = Path(tmp) / "model.onnx"
                onnx.save_model(model, str(model_path))
        res = run_model(model_path, inputs, Path(tmp) / "run", len(expected), timeout=timeout)
    dt = time.monotonic() - t0
    note = f"[baked constant inputs: {','.join(baked)}] " if baked else ""
    if res.error is not None:
        return Result(case.name, ops, "ERROR", note + res.error, dt)
    for i, (out, ref) in enumerate(zip(res.outputs, expected)):
        ok, detail = compare(out, ref, RTOL, ATOL)
        if not ok:
            return Result(case.name, ops, "FAIL", f"{note}output_{i}: {detail}", dt)
    return Result(case.name, ops, "PASS", note.strip(), dt)


def read_expected(path: Path = EXPECTED_FILE) -> List[str]:
    """Names listed in the expected-pass file (one per line, '#' comments)."""
    if not path.exists():
        return []
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def write_expected(results: List[Result], path: Path = EXPECTED_FILE,
                   data: str = "debian") -> None:
    passing = sorted(r.name for r in results if r.status == "PASS")
    header = ("# ONNX node tests that sparsec must pass (checked by test_node_tests.py).\n"
              "# One test name per line; '#' starts a comment.\n"
              f"# Regenerate: python3 test/e2e/run_node_tests.py --data {data} "
              "--update-expected\n"
              f"# Updated {datetime.date.today().isoformat()}: {len(passing)} tests.\n")
    path.write_text(header + "".join(f"{n}\n" for n in passing))


def summarize(results: List[Result]) -> str:
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "ERROR", "SKIP")}
    ran = counts["PASS"] + counts["FAIL"] + counts["ERROR"]
    return (f"{counts['PASS']}/{ran} passed, {counts['FAIL']} failed, {counts['ERROR']} errors, "
            f"{counts['SKIP']} skipped (of {len(results)} candidate node tests)")


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")[:200]


def write_record(results: List[Result], path: Path, command: str,
                 data: Optional[DataSet] = None) -> None:
    data = data or DATA_SETS["debian"]
    lines = ["# ONNX backend node tests: sparsec results", "",
             f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
             f"- Command: `{command}`",
             f"- Binary: `{display_path(sparsec_bin())}`",
             f"- Data: `{display_path(data.root())}` (`--data {data.name}`, onnx "
             f"{onnx.__version__} installed; tests whose ops are all supported, opset <= "
             f"{data.max_opset})",
             f"- Tolerance: rtol={RTOL}, atol={ATOL} (int/bool exact)",
             "- Rows marked [baked ...]: shape/axes graph inputs were turned into initializers "
             "(static-shape compile).",
             f"- Summary: {summarize(results)}", "",
             "| Test | Ops | Status | Detail | Time (s) |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.name} | {_md_escape(r.ops)} | {r.status} | {_md_escape(r.detail)} "
                     f"| {r.seconds:.2f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def run_all(cases: List[Case], jobs: int = 2, timeout: float = TIMEOUT_S,
            progress: bool = True, bake: bool = True) -> List[Result]:
    """Run cases in parallel (threads; each test is a subprocess). Results in case order."""
    results: List[Optional[Result]] = [None] * len(cases)
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(run_case, c, timeout, bake): i for i, c in enumerate(cases)}
        for fut in cf.as_completed(futs):
            i = futs[fut]
            try:
                results[i] = fut.result()
            except Exception as e:  # harness problem: report, don't abort the run
                results[i] = Result(cases[i].name, ",".join(cases[i].ops), "ERROR",
                                    f"harness: {type(e).__name__}: {e}", 0.0)
            if progress:
                r = results[i]
                print(f"{r.status:5s} {r.name:55s} {r.seconds:6.2f}s {r.detail[:100]}",
                      file=sys.stderr)
    return [r for r in results if r is not None]


def print_table(results: List[Result]) -> None:
    w = max([len(r.name) for r in results] + [4])
    print(f"{'test':{w}s}  {'status':6s}  {'ops':40s}  detail")
    for r in results:
        print(f"{r.name:{w}s}  {r.status:6s}  {r.ops[:40]:40s}  {r.detail[:120]}")
    print(summarize(results))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=sorted(DATA_SETS), default="debian",
                    help="debian: libonnx-testdata (ONNX 1.12); current: the installed onnx "
                         "package's node tests")
    ap.add_argument("--filter", default="", help="only tests whose name contains this substring")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="per-test timeout (s)")
    ap.add_argument("--record", type=Path, help="markdown results file (default: the data "
                    "set's, node_test_results[_current].md)")
    ap.add_argument("--update-expected", action="store_true",
                    help="rewrite the data set's expected-pass list with the passing tests")
    ap.add_argument("--all-dtypes", action="store_true",
                    help="also run tests with dtypes outside the CLI contract")
    ap.add_argument("--min-opset", type=int, default=1,
                    help="ignore tests whose model opset is below this (e.g. 13)")
    ap.add_argument("--no-bake", action="store_true",
                    help="feed shape/axes operands (Reshape shape, Slice starts/ends/axes/steps, "
                         "Unsqueeze/Squeeze axes, Dropout ratio/training_mode) as runtime inputs "
                         "instead of baking them into initializers")
    ap.add_argument("--list", action="store_true", help="list candidate tests and exit")
    args = ap.parse_args(argv)
    data = DATA_SETS[args.data]
    record = args.record or data.record

    cases = [c for c in discover(data.root(), all_dtypes=args.all_dtypes,
                                 min_opset=args.min_opset, max_opset=data.max_opset)
             if args.filter in c.name]
    if args.list:
        for c in cases:
            print(f"{c.name:55s} opset={c.opset:2d} {','.join(c.ops)}"
                  + (f"  [SKIP: {c.skip_reason}]" if c.skip_reason else ""))
        print(f"{len(cases)} candidates, {sum(not c.skip_reason for c in cases)} runnable")
        return 0
    msg = missing_binary_message()
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    results = run_all(cases, jobs=args.jobs, timeout=args.timeout, bake=not args.no_bake)
    print_table(results)
    command = "python3 " + " ".join([str(Path(sys.argv[0]))] + (argv or sys.argv[1:]))
    write_record(results, record, command, data)
    print(f"wrote {record}")
    if args.update_expected:
        if args.filter or args.min_opset > 1:
            print("error: --update-expected with --filter/--min-opset would drop tests; refusing",
                  file=sys.stderr)
            return 2
        write_expected(results, data.expected, data.name)
        print(f"wrote {data.expected}")
    expected = set(read_expected(data.expected))
    regressions = [r for r in results if r.name in expected and r.status != "PASS"]
    if not args.filter and args.min_opset <= 1:
        ran = {r.name for r in results}
        regressions += [Result(n, "", "MISSING", "listed as expected pass but not a candidate", 0)
                        for n in sorted(expected - ran)]
    for r in regressions:
        print(f"REGRESSION: {r.name}: {r.status} {r.detail}", file=sys.stderr)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
