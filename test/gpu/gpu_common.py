"""Helpers shared by the GPU checks (test/gpu) and the CUDA benchmark (bench).

Random structured masks (2:4 and HiNM, formats.md §1 and §3), f16/bf16
rounding, the fp64 reference of a sparse linear layer and the error metrics.
numpy only: torch is imported lazily by the callers that need it.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))


def runtime():
    """The ctypes wrapper python/sparsec_runtime.py (needs build-rt)."""
    import sparsec_runtime
    return sparsec_runtime


@dataclass(frozen=True)
class Format:
    """A sparse format as the runtime's Layer takes it."""
    name: str          # short label used in tables
    format: str        # "nm24" | "hinm"
    v: int = 64        # HiNM tile rows
    vs: float = 0.0    # HiNM vector sparsity (0.5 -> 75 %, 0.75 -> 87.5 %)

    @property
    def sparsity(self) -> float:
        return 0.5 if self.format == "nm24" else 1 - (1 - self.vs) / 2


NM24 = Format("2:4", "nm24")
HINM = {
    (64, 0.5): Format("HiNM75 V64", "hinm", 64, 0.5),
    (128, 0.5): Format("HiNM75 V128", "hinm", 128, 0.5),
    (64, 0.75): Format("HiNM87.5 V64", "hinm", 64, 0.75),
    (128, 0.75): Format("HiNM87.5 V128", "hinm", 128, 0.75),
}
ALL_FORMATS = [NM24, *HINM.values()]


def kernel_variant(arch: str) -> dict:
    """A column/case label -> Layer keywords. 'sm_80' (mma.sp, 64-row tiles),
    'sm_80-m128' (mma.sp, 128-row tiles), 'sm_90a' (the async wgmma
    pipeline), 'sm_90a-sync' (the fallback pipeline), 'sm_90a-auto' (the
    compiler's default, mma.sp or wgmma per layer)."""
    base, _, variant = arch.partition("-")
    if variant == "m128":
        return dict(arch=base, wgmma="off", tile_m=128)
    return dict(arch=base, wgmma=variant or "async", tile_m=0)


def variant_supports(arch: str, fmt: Format) -> bool:
    """128-row tiles need HiNM's V to be a multiple of 128."""
    tile_m = kernel_variant(arch)["tile_m"]
    return tile_m <= 64 or fmt.format != "hinm" or fmt.v % tile_m == 0


def round_up(x: int, m: int) -> int:
    return (x + m - 1) // m * m


def two_of_four(rng: np.random.Generator, rows: int, groups: int) -> np.ndarray:
    """uint8 [rows, groups*4]: exactly 2 random kept positions per group."""
    order = np.argsort(rng.random((rows, groups, 4)), axis=2)[:, :, :2]
    mask = np.zeros((rows, groups, 4), np.uint8)
    np.put_along_axis(mask, order, 1, axis=2)
    return mask.reshape(rows, groups * 4)


def nm24_mask(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Random 2:4 mask along K; a partial last group keeps what remains of
    its 2 random positions."""
    return np.ascontiguousarray(two_of_four(rng, rows, -(-cols // 4))[:, :cols])


def hinm_nnz_vec(cols: int, vs: float) -> int:
    """formats.md §3.1: nnz_vec = 4 floor(K (1 - vs) / 4)."""
    return 4 * math.floor(cols * (1 - vs) / 4)


def hinm_mask(rng: np.random.Generator, rows: int, cols: int, v: int,
              vs: float) -> Tuple[np.ndarray, np.ndarray]:
    """Random HiNM mask: each V-row tile keeps nnz_vec random columns, listed
    in random order (the group order, L_t), and 2 of every 4 consecutive
    listed columns per row. Returns (mask uint8 [R, K], tile_columns int64
    [tiles, nnz_vec])."""
    nnz = hinm_nnz_vec(cols, vs)
    if nnz < 4:
        raise ValueError(f"K={cols} at vs={vs} keeps fewer than 4 columns")
    tiles = -(-rows // v)
    columns = np.stack([rng.permutation(cols)[:nnz] for _ in range(tiles)])
    kept = two_of_four(rng, tiles * v, nnz // 4)          # [tiles*V, nnz]
    mask = np.zeros((tiles * v, cols), np.uint8)
    for t in range(tiles):
        mask[t * v:(t + 1) * v][:, columns[t]] = kept[t * v:(t + 1) * v]
    return np.ascontiguousarray(mask[:rows]), columns.astype(np.int64)


def random_mask(rng: np.random.Generator, rows: int, cols: int,
                fmt: Format) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    if fmt.format == "nm24":
        return nm24_mask(rng, rows, cols), None
    return hinm_mask(rng, rows, cols, fmt.v, fmt.vs)


def to_bits(x: np.ndarray, dtype: str) -> np.ndarray:
    """fp32 -> uint16 f16/bf16 bits, round to nearest even (finite inputs)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == "f16":
        return x.astype(np.float16).view(np.uint16)
    u = x.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bits(bits: np.ndarray, dtype: str) -> np.ndarray:
    bits = np.ascontiguousarray(bits, dtype=np.uint16)
    if dtype == "f16":
        return bits.view(np.float16).astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def rounded(x: np.ndarray, dtype: str) -> np.ndarray:
    return from_bits(to_bits(x, dtype), dtype)


# Bit patterns never produced by a kernel (quiet NaNs): output poison.
POISON = {"f16": 0x7E01, "bf16": 0x7FC1}

try:  # scipy is on the GPU image; math.erf elementwise is the fallback
    from scipy.special import erf as _erf
except ImportError:
    _erf = np.vectorize(math.erf, otypes=[np.float64])


def activation(y: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(y, 0)
    if act == "gelu":  # erf form, computed independently of the kernel's
        return 0.5 * y * (1 + _erf(y / math.sqrt(2)))
    return y


def reference(w: np.ndarray, mask: np.ndarray, x: np.ndarray,
              bias: Optional[np.ndarray], act: str, dtype: str) -> np.ndarray:
    """fp64 act((round(W) * mask) @ x + bias); x already rounded."""
    wm = rounded(w, dtype).astype(np.float64) * mask
    y = wm @ x.astype(np.float64)
    if bias is not None:
        y += bias.astype(np.float64)[:, None]
    return activation(y, act)


def rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    """Normwise ||y - ref|| / ||ref|| (inf when y has non-finite values)."""
    y = np.asarray(y, np.float64)
    ref = np.asarray(ref, np.float64)
    if not np.all(np.isfinite(y)):
        return math.inf
    den = np.linalg.norm(ref)
    return float(np.linalg.norm(y - ref) / (den if den > 0 else 1.0))


def write_json(path: Optional[str], data) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=1, default=str) + "\n")


def write_text(path: Optional[str], text: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
