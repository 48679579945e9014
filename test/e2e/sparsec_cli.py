"""Shared helpers for driving the sparsec CLI from Python tests, scripts and benchmarks."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "bin" / "sparsec"


def sparsec_bin() -> Path:
    """Path of the sparsec binary: $SPARSEC_BIN or <repo>/build/bin/sparsec."""
    env = os.environ.get("SPARSEC_BIN")
    return Path(env).expanduser().resolve() if env else DEFAULT_BIN


def run_at_thread_counts(model: Path, x: np.ndarray, workdir: Path, flags: Sequence[str] = (),
                         threads: Sequence[str] = ("1", "2")) -> List[np.ndarray]:
    """`sparsec MODEL --run` on the one input x at each OMP_NUM_THREADS in `threads`: the
    first output of each run (for tests that the thread count changes no bit)."""
    np.save(workdir / "x.npy", x)
    outputs = []
    for count in threads:
        out = workdir / f"out{count}"
        env = dict(os.environ, OMP_NUM_THREADS=count)
        proc = subprocess.run([str(sparsec_bin()), str(model), "--run",
                               f"--input={workdir / 'x.npy'}", "-o", str(out), *flags],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append(np.load(out / "output_0.npy"))
    return outputs


def write_report(out: Path, md: List[str], notes: Sequence[str] = ()) -> int:
    """Prints a benchmark's markdown report (plus notes) and writes it to out."""
    if notes:
        md = [*md, "Notes:", *notes, ""]
    text = "\n".join(md)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {display_path(out)}")
    return 0


def display_path(p: Path) -> str:
    """p relative to the repo root when inside it, else absolute."""
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def missing_binary_message() -> Optional[str]:
    """None if the binary is usable, else a human-readable reason."""
    b = sparsec_bin()
    if not b.exists():
        return (f"sparsec binary not found at {b}. Build it first (cmake --build build) "
                f"or point SPARSEC_BIN at it.")
    if not os.access(b, os.X_OK):
        return f"sparsec binary at {b} is not executable"
    return None


def run_sparsec(args: Sequence[str], timeout: float = 60.0,
                cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run sparsec with args; raises subprocess.TimeoutExpired on timeout."""
    return subprocess.run([str(sparsec_bin()), *map(str, args)], capture_output=True, text=True,
                          errors="replace", timeout=timeout, cwd=cwd)


@dataclass
class RunResult:
    proc: Optional[subprocess.CompletedProcess]
    outputs: List[np.ndarray] = field(default_factory=list)
    error: Optional[str] = None  # set when the run failed (non-zero exit, timeout, missing file)
    cmd: str = ""


def first_error_line(stderr: str) -> str:
    """The first line mentioning 'error' (else the first non-empty line) of stderr."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln
    return lines[0] if lines else ""


def run_model(model_path: Path, inputs: Sequence[np.ndarray], workdir: Path, n_outputs: int,
              timeout: float = 60.0, extra_args: Sequence[str] = ()) -> RunResult:
    """Save inputs as .npy, run `sparsec MODEL --run --input=... -o OUTDIR`, load outputs."""
    workdir.mkdir(parents=True, exist_ok=True)
    args: List[str] = [str(model_path), "--run"]
    for i, a in enumerate(inputs):
        p = workdir / f"input_{i}.npy"
        np.save(p, a)
        args.append(f"--input={p}")
    outdir = workdir / "out"
    args += ["-o", str(outdir), *extra_args]
    cmd = " ".join([str(sparsec_bin()), *args])
    try:
        proc = run_sparsec(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return RunResult(None, error=f"TIMEOUT after {timeout:.0f}s", cmd=cmd)
    if proc.returncode != 0:
        sig = f" (killed by signal {-proc.returncode})" if proc.returncode < 0 else ""
        line = first_error_line(proc.stderr).replace(f"{model_path}: ", "")
        return RunResult(proc, error=f"exit {proc.returncode}{sig}: {line or '<no stderr>'}",
                         cmd=cmd)
    outs = []
    for i in range(n_outputs):
        p = outdir / f"output_{i}.npy"
        if not p.exists():
            return RunResult(proc, error=f"missing {p.name} (exit 0)", cmd=cmd)
        outs.append(np.load(p, allow_pickle=False))
    return RunResult(proc, outs, cmd=cmd)


def robust_rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """max|a-b| / max(max|b|, 1e-6)."""
    if expected.size == 0:
        return 0.0
    a = actual.astype(np.float64)
    b = expected.astype(np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-6))


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
            max_rel: Optional[float] = None) -> Tuple[bool, str]:
    """Compare one output: dtype and shape must match; floats by allclose(rtol, atol) (and
    robust relative error <= max_rel if given); ints/bools exactly. Returns (ok, detail)."""
    if actual.dtype != expected.dtype:
        return False, f"dtype {actual.dtype} != expected {expected.dtype}"
    if actual.shape != expected.shape:
        return False, f"shape {actual.shape} != expected {expected.shape}"
    if np.issubdtype(expected.dtype, np.floating):
        if not np.array_equal(np.isnan(actual), np.isnan(expected)):
            return False, "NaN pattern differs"
        a, b = np.nan_to_num(actual), np.nan_to_num(expected)
        rel = robust_rel_err(a, b)
        close = np.allclose(a, b, rtol=rtol, atol=atol)
        abs_err = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
        detail = f"max_abs_err={abs_err:.3g} rel_err={rel:.3g}"
        if not close:
            bad = int(np.sum(~np.isclose(a, b, rtol=rtol, atol=atol)))
            return False, f"not allclose(rtol={rtol}, atol={atol}): {bad}/{b.size} elems; {detail}"
        if max_rel is not None and rel > max_rel:
            return False, f"rel_err {rel:.3g} > {max_rel}; {detail}"
        return True, detail
    if not np.array_equal(actual, expected):
        bad = int(np.sum(actual != expected))
        return False, f"{bad}/{expected.size} elements differ (exact compare)"
    return True, "exact"


def sparsec_ok(args: Sequence[object], what: str, timeout: float, feature: str = ""
               ) -> subprocess.CompletedProcess:
    """Run sparsec; pytest.fail with a readable message unless it exits 0.
    `feature` names what an unknown option would mean is missing."""
    import pytest
    cmd = " ".join(map(str, [sparsec_bin(), *args]))
    try:
        proc = run_sparsec(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: sparsec timed out after {timeout}s\ncmd: {cmd}", pytrace=False)
    if proc.returncode != 0:
        hint = ""
        if feature and "Unknown command line argument" in proc.stderr:
            hint = f" -- sparsec does not know one of these options yet ({feature} missing)"
        pytest.fail(f"{what}: sparsec exit {proc.returncode}: {first_error_line(proc.stderr)}"
                    f"{hint}\ncmd: {cmd}\nstderr:\n{proc.stderr[-3000:]}", pytrace=False)
    return proc
