#!/usr/bin/env python3
"""A/B timing of CPU artifacts on a noisy machine: interleaved rounds, best of each.

On a shared VM one artifact's median can move 20-30 % between invocations, so two
artifacts timed one after the other compare the machine's moods, not the code. This
script runs `sparsec-run ARTIFACT --repeat N --threads T` for every artifact in turn,
for several rounds, and reports per artifact the best median, the median of the
medians and the minimum single call, with each one's ratio to the first artifact.
Act only on differences that the best medians and the medians of medians agree on.

    python3 bench/ab.py [--threads 1] [--rounds 6] [--repeat 10] BASELINE_DIR OTHER_DIR...

The artifacts come from `sparsec MODEL.onnx --target=host --emit=artifact -o DIR`
(built by the two binaries or option sets being compared).
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMING = re.compile(r"median ([\d.]+) ms, min ([\d.]+)")


def time_once(runner: Path, artifact: str, repeat: int, threads: int,
              extra: list[str]) -> tuple[float, float]:
    """(median, min) in ms of one `sparsec-run --repeat` invocation."""
    result = subprocess.run(
        [str(runner), artifact, "--repeat", str(repeat), "--threads", str(threads)] + extra,
        capture_output=True, text=True)
    match = TIMING.search(result.stdout)
    if result.returncode != 0 or not match:
        sys.exit(f"ab.py: sparsec-run {artifact} failed (exit {result.returncode}):\n"
                 f"{result.stdout}{result.stderr}")
    return float(match.group(1)), float(match.group(2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", help="artifact directories; the first is the baseline")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=10, help="calls per sparsec-run invocation")
    parser.add_argument("--no-retain-memory", action="store_true",
                        help="pass --no-retain-memory to sparsec-run (glibc's malloc defaults)")
    parser.add_argument("--sparsec-run", type=Path, default=ROOT / "build" / "bin" / "sparsec-run")
    args = parser.parse_args()
    if args.rounds < 1 or args.repeat < 1 or args.threads < 1:
        parser.error("--rounds, --repeat and --threads must be positive")
    for artifact in args.artifacts:
        if not (Path(artifact) / "manifest.json").is_file():
            parser.error(f"{artifact}: not an artifact directory (no manifest.json)")

    extra = ["--no-retain-memory"] if args.no_retain_memory else []
    runs: dict[str, list[tuple[float, float]]] = {a: [] for a in args.artifacts}
    for _ in range(args.rounds):
        for artifact in args.artifacts:
            runs[artifact].append(time_once(args.sparsec_run, artifact, args.repeat, args.threads,
                                            extra))

    print(f"# {args.rounds} interleaved rounds of sparsec-run --repeat {args.repeat} "
          f"--threads {args.threads} {' '.join(extra)}\n")
    print("| artifact | best median ms | median of medians ms | min ms | speed vs first (its best median / this one's) |")
    print("|---|---:|---:|---:|---:|")
    base = None
    for artifact, samples in runs.items():
        medians = [m for m, _ in samples]
        best, typical, fastest = min(medians), statistics.median(medians), min(x for _, x in samples)
        base = base or best
        print(f"| {artifact} | {best:.3f} | {typical:.3f} | {fastest:.3f} | {base / best:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
