"""Independent numpy references for the CUDA kernels: random 2:4 / HiNM
masks, value-type rounding and the layer's math (fp64)."""
from __future__ import annotations

import math

import numpy as np


def round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round fp32 values to f16 or bf16 (nearest even) and back to fp32."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (rounded.astype(np.uint32) << 16).view(np.float32)


def random_nm24_mask(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Two kept entries in every group of 4 along K (fewer in a short tail)."""
    mask = np.zeros((rows, cols), dtype=np.uint8)
    for g in range(0, cols, 4):
        width = min(4, cols - g)
        for r in range(rows):
            mask[r, g + rng.choice(width, size=min(2, width), replace=False)] = 1
    return mask


def random_hinm(rng: np.random.Generator, rows: int, cols: int, v: int, vs: float,
                shuffle: bool = False):
    """HiNM mask: per V-row tile nnz_vec = 4*floor(K(1-vs)/4) kept columns L_t
    (ascending, or shuffled: the order defines the 2:4 groups), then 2 of every
    4 consecutive L_t entries per row. Returns (mask, tile_columns)."""
    nnz_vec = 4 * math.floor(cols * (1 - vs) / 4)
    tiles = -(-rows // v)
    mask = np.zeros((rows, cols), dtype=np.uint8)
    columns = np.zeros((tiles, nnz_vec), dtype=np.int64)
    for t in range(tiles):
        chosen = np.sort(rng.choice(cols, size=nnz_vec, replace=False))
        if shuffle:
            chosen = rng.permutation(chosen)
        columns[t] = chosen
        for r in range(t * v, min(rows, (t + 1) * v)):
            for q in range(0, nnz_vec, 4):
                mask[r, chosen[q + rng.choice(4, size=2, replace=False)]] = 1
    return mask, columns


def gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def linear_reference(weight, mask, bias, x, dtype: str, act: str) -> np.ndarray:
    """fp64 act(round(W*mask) @ round(x).T + bias) as [T, R]."""
    w = round_to(weight * mask, dtype).astype(np.float64)
    xr = round_to(x, dtype).astype(np.float64)
    y = xr @ w.T
    if bias is not None:
        y = y + bias.astype(np.float64)
    if act == "relu":
        y = np.maximum(y, 0.0)
    elif act == "gelu":
        y = gelu(y)
    return y


def normwise_rel(actual: np.ndarray, expected: np.ndarray) -> float:
    denom = max(float(np.linalg.norm(expected)), 1e-30)
    return float(np.linalg.norm(actual.astype(np.float64) - expected) / denom)
