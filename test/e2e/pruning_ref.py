"""Independent numpy reference of sparsec's pruning rules and packed formats.

Written from the specs only (docs/Pruning.md, ../shared/spec/formats.md §1-§3,
../shared/spec/algorithms.md §0-§1); it never calls sparsec. Used by test_pruning.py and
bench/prune_bench.py.

Contents
- stable_topk / group_topk_mask: "k largest, ties to the smaller index, ascending".
- nm_select, hinm_select (+ hinm_nnz_vec, vs_from_sparsity): the selection rules.
- gemm_view / from_gemm_view: initializer <-> GEMM view W (R x K) for Gemm, MatMul and Conv
  (korder hwc / chw).
- round_value_type: the masked-weight rounding for f16 / bf16.
- pack_nm / unpack_nm, pack_hinm / unpack_hinm: the packed storage of docs/Pruning.md.
- meta_encode16 / meta_encode32: META16 / META32 encoders written from formats.md §2.1-2.2,
  meta_lookup: an independent "which word / bit holds row r, group j" decoder, and
  self_test() that checks one against the other (run: python pruning_ref.py).

Conventions: masks are bool arrays in the GEMM view unless a function says otherwise; the
saliency S is any real array of the same shape (default |w|).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

CODE_FILLER = 0x4  # positions {0,1}: all-zero groups, padding rows, filler columns
VALID_CODES_ORDERED = (0x4, 0x8, 0x9, 0xC, 0xD, 0xE)


def roundup(a: int, b: int) -> int:
    return -(-a // b) * b


# ---------------------------------------------------------------------------------------------
# Selection primitives
# ---------------------------------------------------------------------------------------------
def stable_topk(v: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of v along the last axis, ties to the smaller index,
    returned ascending (algorithms.md §0). Works batched over leading axes."""
    v = np.asarray(v)
    k = min(k, v.shape[-1])
    order = np.argsort(-v, axis=-1, kind="stable")  # -x is exact; stable keeps index order
    return np.sort(order[..., :k], axis=-1)


def group_topk_mask(s: np.ndarray, n: int) -> np.ndarray:
    """Bool mask over the last axis (size M) keeping stable_topk(s, n) in every group.

    For M <= 8 uses a comparison-rank formulation (keep i iff #{j: s_j > s_i} +
    #{j < i: s_j == s_i} < n), which is the same rule and much faster than argsort;
    otherwise argsort. self_test() checks both agree."""
    m = s.shape[-1]
    if n >= m:
        return np.ones(s.shape, dtype=bool)
    if m <= 8:
        rank = np.zeros(s.shape, dtype=np.int8)
        for j in range(m):
            sj = s[..., j:j + 1]
            gt = sj > s
            # ties: j beats i when j < i
            tie = (sj == s)
            tie[..., :j + 1] = False  # only i > j lose the tie to j
            rank += (gt | tie).astype(np.int8)
        return rank < n
    idx = stable_topk(s, n)
    mask = np.zeros(s.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return mask


def _group_topk_mask_argsort(s: np.ndarray, n: int) -> np.ndarray:
    idx = stable_topk(s, n)
    mask = np.zeros(s.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return mask


# ---------------------------------------------------------------------------------------------
# N:M
# ---------------------------------------------------------------------------------------------
def nm_select(S: np.ndarray, n: int, m: int) -> np.ndarray:
    """N:M mask of the GEMM-view saliency S (R x K): per row and group of M columns along K
    keep stable_topk(S[r, group], N); the tail group is cut at K (all of it if < N columns)."""
    S = np.asarray(S)
    R, K = S.shape
    G = -(-K // m)
    full = (K // m) * m
    mask = np.zeros((R, K), dtype=bool)
    if full:
        mask[:, :full] = group_topk_mask(S[:, :full].reshape(R, K // m, m), n).reshape(R, full)
    if full < K:  # tail group of K - full < M real columns
        tail = S[:, full:]
        mask[:, full:] = _group_topk_mask_argsort(tail, n)  # n >= width keeps all of them
    assert G == -(-K // m)
    return mask


# ---------------------------------------------------------------------------------------------
# HiNM
# ---------------------------------------------------------------------------------------------
def hinm_nnz_vec(K: int, vs: float, m: int = 4) -> int:
    """nnz_vec = M * floor(K * (1 - vs) / M), evaluated in IEEE double left to right."""
    return m * math.floor(float(K) * (1.0 - float(vs)) / float(m))


def vs_from_sparsity(s: float, n: int = 2, m: int = 4) -> float:
    """vs = 1 - (1 - s) * M / N (double, left to right)."""
    return 1.0 - (1.0 - float(s)) * float(m) / float(n)


@dataclass
class HinmSelection:
    mask: np.ndarray      # bool [R, K]
    L: np.ndarray         # int64 [T, nnz_vec], ascending column ids per tile
    nnz_vec: int
    v: int
    n: int
    m: int

    @property
    def tiles(self) -> int:
        return self.L.shape[0]


def hinm_colscore(S: np.ndarray, v: int) -> np.ndarray:
    """colscore[t, k] = sum over the tile's rows of S[i, k] in float64, accumulated in row
    order (sequential adds, not pairwise), rows padded to roundup(R, V) with S = 0."""
    R, K = S.shape
    Rp = roundup(R, v)
    T = Rp // v
    Sp = np.zeros((Rp, K), dtype=np.float64)
    Sp[:R] = S
    S3 = Sp.reshape(T, v, K)
    acc = np.zeros((T, K), dtype=np.float64)
    for i in range(v):  # row order, one IEEE add per row
        acc += S3[:, i, :]
    return acc


def hinm_select(S: np.ndarray, v: int, vs: float, n: int = 2, m: int = 4) -> HinmSelection:
    """HiNM selection (Pruning.md 'HiNM', algorithms.md §1, identity row order)."""
    S = np.asarray(S)
    R, K = S.shape
    nnz = hinm_nnz_vec(K, vs, m)
    if nnz < m:
        raise ValueError(f"nnz_vec = {nnz} < M = {m} (K={K}, vs={vs})")
    Rp = roundup(R, v)
    T = Rp // v
    col = hinm_colscore(S, v)
    L = stable_topk(col, nnz)  # [T, nnz] ascending
    # per real row: gather compacted saliency, N of every M compacted positions
    tile_of_row = np.arange(R) // v
    Lrow = L[tile_of_row]                      # [R, nnz]
    Sc = np.take_along_axis(S, Lrow, axis=1)   # [R, nnz]
    keep_c = group_topk_mask(Sc.reshape(R, nnz // m, m), n).reshape(R, nnz)
    mask = np.zeros((R, K), dtype=bool)
    np.put_along_axis(mask, Lrow, keep_c, axis=1)
    return HinmSelection(mask, L, nnz, v, n, m)


# ---------------------------------------------------------------------------------------------
# Option strings
# ---------------------------------------------------------------------------------------------
def parse_sparsity(spec: str) -> Dict[str, object]:
    """'nm:n=2,m=4' / 'hinm:v=64,vs=0.5[,n=2,m=4]' / 'hinm:v=64,sparsity=0.75' -> dict with
    pattern, n, m (and v, vs for hinm). Only for well-formed strings (tests, bench)."""
    pat, _, rest = spec.partition(":")
    kv = dict(item.split("=", 1) for item in rest.split(",") if item)
    out: Dict[str, object] = {"pattern": pat, "n": int(kv.get("n", 2)), "m": int(kv.get("m", 4))}
    if pat == "hinm":
        out["v"] = int(kv["v"])
        if "vs" in kv:
            out["vs"] = float(kv["vs"])
        else:
            out["vs"] = vs_from_sparsity(float(kv["sparsity"]), out["n"], out["m"])
    return out


def select(S: np.ndarray, opts: Dict[str, object]):
    """Mask (bool, GEMM view) and, for hinm, the HinmSelection."""
    if opts["pattern"] == "nm":
        return nm_select(S, opts["n"], opts["m"]), None
    sel = hinm_select(S, opts["v"], opts["vs"], opts["n"], opts["m"])
    return sel.mask, sel


# ---------------------------------------------------------------------------------------------
# GEMM view
# ---------------------------------------------------------------------------------------------
def gemm_view(arr: np.ndarray, kind: str, korder: str = "hwc") -> np.ndarray:
    """Initializer -> GEMM view W [R, K].
    kind: 'gemm' (Gemm transB=1: W as stored), 'gemm_t0' (Gemm transB=0: [K,R]),
    'matmul' (MatMul B [K,R]: W = B^T), 'conv' (OIHW; korder 'hwc': k=(y*kw+x)*C+c,
    'chw': k=(c*kh+y)*kw+x)."""
    if kind == "gemm":
        return arr
    if kind in ("matmul", "gemm_t0"):
        return arr.T
    if kind == "conv":
        co = arr.shape[0]
        if korder == "chw":
            return arr.reshape(co, -1)
        if korder == "hwc":
            return arr.transpose(0, 2, 3, 1).reshape(co, -1)
        raise ValueError(korder)
    raise ValueError(kind)


def from_gemm_view(W: np.ndarray, kind: str, shape, korder: str = "hwc") -> np.ndarray:
    """Inverse of gemm_view."""
    shape = tuple(shape)
    if kind == "gemm":
        return W.reshape(shape)
    if kind in ("matmul", "gemm_t0"):
        return W.T.reshape(shape)
    if kind == "conv":
        co, c, kh, kw = shape
        if korder == "chw":
            return W.reshape(shape)
        return W.reshape(co, kh, kw, c).transpose(0, 3, 1, 2)
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------------
def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bit pattern (uint16). NaN kept quiet."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_value_type(w: np.ndarray, value_type: str) -> np.ndarray:
    """float32 array rounded through the packed value type (exactly representable after)."""
    w = np.asarray(w, dtype=np.float32)
    if value_type == "f32":
        return w.copy()
    if value_type == "f16":
        return w.astype(np.float16).astype(np.float32)
    if value_type == "bf16":
        return bf16_bits_to_f32(f32_to_bf16_bits(w))
    raise ValueError(value_type)


def storage_values(w: np.ndarray, value_type: str) -> np.ndarray:
    """float32 -> the array dtype used in .npy files: float32, float16, or uint16 bits (bf16)."""
    if value_type == "f32":
        return np.asarray(w, dtype=np.float32)
    if value_type == "f16":
        return np.asarray(w, dtype=np.float32).astype(np.float16)
    return f32_to_bf16_bits(w)


def values_as_f32(a: np.ndarray, value_type: str) -> np.ndarray:
    if value_type == "bf16":
        if a.dtype == np.uint16:
            return bf16_bits_to_f32(a)
        return a.astype(np.float32)
    return a.astype(np.float32)


VALUE_BYTES = {"f32": 4, "f16": 2, "bf16": 2}


# ---------------------------------------------------------------------------------------------
# Metadata: encoders from the spec text, and an independent lookup decoder
# ---------------------------------------------------------------------------------------------
def _E(codes16: np.ndarray) -> np.ndarray:
    """codes16 [..., 16, 8] (rows of a 16x32 block, 8 groups of 4) -> E [..., 8, 2] uint32.
    E(g,p) bits [4c+3:4c] = code(row g, group 4p+c); bits [16+4c+3:16+4c] = code(row g+8, ...)."""
    c = codes16.astype(np.uint32)
    E = np.zeros(c.shape[:-2] + (8, 2), dtype=np.uint32)
    for p in range(2):
        for cc in range(4):
            E[..., :, p] |= c[..., 0:8, 4 * p + cc] << np.uint32(4 * cc)
            E[..., :, p] |= c[..., 8:16, 4 * p + cc] << np.uint32(16 + 4 * cc)
    return E


def meta_encode16(codes: np.ndarray) -> np.ndarray:
    """META16: codes [..., 16, 8] -> [..., 16] words, word[2g + p] = E(g, p)."""
    E = _E(codes)                       # [..., 8(g), 2(p)]
    return E.reshape(E.shape[:-2] + (16,))  # index g*2 + p


def meta_encode32(codes: np.ndarray) -> np.ndarray:
    """META32: codes [..., 32, 8] -> [..., 32] words: word[4g+t] = E_top(g,t) for t in {0,1},
    E_bot(g,t-2) for t in {2,3}; top = rows 0-15, bottom = rows 16-31."""
    top = _E(codes[..., 0:16, :])       # [..., 8, 2]
    bot = _E(codes[..., 16:32, :])
    W = np.concatenate([top, bot], axis=-1)  # [..., 8(g), 4(t)]
    return W.reshape(W.shape[:-2] + (32,))


def meta_lookup(layout: str, r: int, j: int) -> Tuple[int, int]:
    """Where the code of block row r, group j (logical columns 4j..4j+3 of the 32-wide block)
    lives: (word index in the block record, bit shift). Derived from the register picture:
    lane 4g+t; row g (and g+8) belong to quad g; the column half p = j // 4 picks the word of
    the pair; rows 8..15 of a 16-row half sit in the upper 16 bits."""
    p, c = divmod(j, 4)
    if layout == "meta16":
        assert 0 <= r < 16
        g, hi = r % 8, r // 8
        return 2 * g + p, 16 * hi + 4 * c
    if layout == "meta32":
        assert 0 <= r < 32
        half, rr = divmod(r, 16)           # half 0 -> selector 0 (t = p), half 1 -> t = 2 + p
        g, hi = rr % 8, rr // 8
        return 4 * g + 2 * half + p, 16 * hi + 4 * c
    raise ValueError(layout)


_LOOKUP_CACHE: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}


def _lookup_tables(layout: str) -> Tuple[np.ndarray, np.ndarray]:
    if layout not in _LOOKUP_CACHE:
        rows = 16 if layout == "meta16" else 32
        widx = np.zeros((rows, 8), dtype=np.int64)
        sh = np.zeros((rows, 8), dtype=np.uint32)
        for r in range(rows):
            for j in range(8):
                widx[r, j], sh[r, j] = meta_lookup(layout, r, j)
        _LOOKUP_CACHE[layout] = (widx, sh)
    return _LOOKUP_CACHE[layout]


def meta_decode(words: np.ndarray, layout: str) -> np.ndarray:
    """Inverse via the lookup tables: words [..., 16|32] -> codes [..., 16|32, 8] (uint8)."""
    widx, sh = _lookup_tables(layout)
    w = np.asarray(words, dtype=np.uint32)
    g = w[..., widx]                      # [..., rows, 8]
    return ((g >> sh) & np.uint32(0xF)).astype(np.uint8)


def meta_encode16_hinm_sp(codes: np.ndarray) -> np.ndarray:
    """Third, independent META16 construction as described for the HiNM reference packer
    (formats.md §2.2): swap the off-diagonal 8x16 quadrants of the 16x32 block, pack each row
    of 32 (8 groups) into one word LSB-first with 2-bit fields, rows i -> word 2i,
    8+i -> word 2i+1. Single block, codes [16, 8]."""
    blk = codes.copy()
    # quadrants in group units: rows 0-7 / 8-15 x groups 0-3 / 4-7
    tr = blk[0:8, 4:8].copy()
    blk[0:8, 4:8] = blk[8:16, 0:4]
    blk[8:16, 0:4] = tr
    words = np.zeros(16, dtype=np.uint32)
    for row in range(16):
        w = 0
        for j in range(8):
            code = int(blk[row, j])
            p0, p1 = code & 3, code >> 2
            w |= p0 << (4 * j)        # 2-bit fields LSB-first: slot 0 then slot 1 of group j
            w |= p1 << (4 * j + 2)
        dst = 2 * row if row < 8 else 2 * (row - 8) + 1
        words[dst] = w
    return words


# ---------------------------------------------------------------------------------------------
# Slot selection shared by the packers
# ---------------------------------------------------------------------------------------------
def _slots(mask3: np.ndarray, n: int) -> np.ndarray:
    """mask3 [..., M] bool with <= n kept per group -> positions [..., n] (uint8), the kept
    positions plus fillers at the smallest unused positions, sorted ascending."""
    m = mask3.shape[-1]
    cnt = mask3.sum(-1)
    if np.any(cnt > n):
        raise ValueError(f"a group keeps {int(cnt.max())} > N = {n}")
    key = (~mask3).astype(np.int16) * m + np.arange(m, dtype=np.int16)
    pos = np.sort(np.argsort(key, axis=-1, kind="stable")[..., :n], axis=-1)
    return pos.astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# N:M packing
# ---------------------------------------------------------------------------------------------
def pack_nm(Wm: np.ndarray, mask: np.ndarray, n: int, m: int, value_type: str = "f32"
            ) -> Dict[str, np.ndarray]:
    """Pack a masked GEMM-view weight (R x K, float32, zero off-mask) into values [R, G*N],
    pos [R, G*N] uint8 and, for 2:4, meta (uint32 META32 words, block order
    [row-block of 32][k-block of 32 columns][word]; rows padded to 32, groups to 8, code 0x4).
    Slots are the mask's kept positions; groups with fewer than N kept take fillers (value 0)
    at the smallest unused positions."""
    R, K = Wm.shape
    G = -(-K // m)
    Kp = G * m
    mp = np.zeros((R, Kp), dtype=bool)
    mp[:, :K] = mask
    wp = np.zeros((R, Kp), dtype=np.float32)
    wp[:, :K] = np.where(mask, Wm, 0)
    pos = _slots(mp.reshape(R, G, m), n)                            # [R, G, n]
    vals = np.take_along_axis(wp.reshape(R, G, m), pos.astype(np.int64), axis=-1)
    out = {"values": storage_values(vals.reshape(R, G * n), value_type),
           "pos": pos.reshape(R, G * n)}
    if n == 2 and m == 4:
        codes = (pos[..., 0] | (pos[..., 1] << 2)).astype(np.uint8)  # [R, G]
        R32, G8 = roundup(R, 32), roundup(G, 8)
        cp = np.full((R32, G8), CODE_FILLER, dtype=np.uint8)
        cp[:R, :G] = codes
        blocks = cp.reshape(R32 // 32, 32, G8 // 8, 8).transpose(0, 2, 1, 3)  # [rb, kb, 32, 8]
        out["meta"] = meta_encode32(blocks).reshape(-1)
    return out


def unpack_nm(values: np.ndarray, pos: np.ndarray, R: int, K: int, n: int, m: int,
              value_type: str = "f32") -> np.ndarray:
    """values/pos -> dense GEMM view [R, K] float32. Checks positions are in [0,M) and strictly
    increasing in a group, and that slots past K hold 0."""
    G = -(-K // m)
    v = values_as_f32(np.asarray(values), value_type).reshape(R, G, n)
    p = np.asarray(pos).astype(np.int64).reshape(R, G, n)
    if p.size:
        if p.min() < 0 or p.max() >= m:
            raise ValueError("pos out of [0, M)")
        if n > 1 and np.any(np.diff(p, axis=-1) <= 0):
            raise ValueError("pos not strictly increasing within a group")
    dense = np.zeros((R, G, m), dtype=np.float32)
    np.put_along_axis(dense, p, v, axis=-1)
    dense = dense.reshape(R, G * m)
    if np.any(dense[:, K:] != 0):
        raise ValueError("non-zero value stored past K")
    return dense[:, :K]


def decode_meta32_nm(meta: np.ndarray, R: int, K: int) -> np.ndarray:
    """2:4 META32 words -> codes [roundup(R,32), roundup(G,8)] via the lookup decoder."""
    G = -(-K // 4)
    R32, G8 = roundup(R, 32), roundup(G, 8)
    w = np.asarray(meta, dtype=np.uint32).reshape(R32 // 32, G8 // 8, 32)
    codes = meta_decode(w, "meta32")                        # [rb, kb, 32, 8]
    return codes.transpose(0, 2, 1, 3).reshape(R32, G8)


# ---------------------------------------------------------------------------------------------
# HiNM packing
# ---------------------------------------------------------------------------------------------
def pack_hinm(Wm: np.ndarray, mask: np.ndarray, L: np.ndarray, v: int, value_type: str = "f32",
              meta_layout: str = "meta32") -> Dict[str, np.ndarray]:
    """Pack a HiNM (2:4 inside) masked GEMM-view weight. L [T, nnz_vec] are the tiles' column
    lists (ascending). values [R_p, K_c/2], col_idx [T, K_c] (uint16 if K <= 65536 else
    uint32; fillers = L[t, nnz_vec-1]), meta uint32 words, block order
    [tile][k-block][row-block][word]; padding rows / filler columns code 0x4, value 0."""
    R, K = Wm.shape
    T, nnz = L.shape
    Rp = roundup(R, v)
    assert Rp // v == T
    Kc = roundup(nnz, 32)
    rows_per_block = 32 if meta_layout == "meta32" else 16
    if v % rows_per_block:
        raise ValueError(f"{meta_layout} needs V to be a multiple of {rows_per_block}")
    idx_dt = np.uint16 if K <= 65536 else np.uint32
    col_idx = np.empty((T, Kc), dtype=idx_dt)
    col_idx[:, :nnz] = L
    col_idx[:, nnz:] = L[:, nnz - 1:nnz]
    wpad = np.zeros((Rp, K), dtype=np.float32)
    wpad[:R] = np.where(mask, Wm, 0)
    mpad = np.zeros((Rp, K), dtype=bool)
    mpad[:R] = mask
    Lrow = np.repeat(L, v, axis=0)                                 # [Rp, nnz]
    wc = np.zeros((Rp, Kc), dtype=np.float32)
    mc = np.zeros((Rp, Kc), dtype=bool)
    wc[:, :nnz] = np.take_along_axis(wpad, Lrow, axis=1)
    mc[:, :nnz] = np.take_along_axis(mpad, Lrow, axis=1)
    if mc[:, :nnz].sum() != mpad.sum():
        raise ValueError("mask keeps a column outside its tile's L_t")
    pos = _slots(mc.reshape(Rp, Kc // 4, 4), 2)                    # [Rp, Kc/4, 2]
    vals = np.take_along_axis(wc.reshape(Rp, Kc // 4, 4), pos.astype(np.int64), axis=-1)
    codes = (pos[..., 0] | (pos[..., 1] << 2)).astype(np.uint8)    # [Rp, Kc/4]
    rb = v // rows_per_block
    blocks = codes.reshape(T, rb, rows_per_block, Kc // 32, 8).transpose(0, 3, 1, 2, 4)
    enc = meta_encode32 if meta_layout == "meta32" else meta_encode16
    meta = enc(blocks).reshape(-1)
    return {"values": storage_values(vals.reshape(Rp, Kc // 2), value_type),
            "col_idx": col_idx, "meta": meta}


def unpack_hinm(values: np.ndarray, col_idx: np.ndarray, meta: np.ndarray, R: int, K: int,
                v: int, nnz_vec: int, value_type: str = "f32", meta_layout: str = "meta32",
                strict: bool = True) -> np.ndarray:
    """HiNM packed arrays -> dense GEMM view [R, K] float32. Accepts every valid code (p0 != p1,
    either order). strict: also require padding rows / filler columns to hold 0 (values) and
    code 0x4, and col_idx fillers equal to L[nnz_vec-1], all in range."""
    Rp = roundup(R, v)
    T = Rp // v
    Kc = roundup(nnz_vec, 32)
    rows_per_block = 32 if meta_layout == "meta32" else 16
    rb = v // rows_per_block
    vals = values_as_f32(np.asarray(values), value_type).reshape(Rp, Kc // 4, 2)
    ci = np.asarray(col_idx).astype(np.int64).reshape(T, Kc)
    words = np.asarray(meta, dtype=np.uint32).reshape(T, Kc // 32, rb, rows_per_block)
    codes = meta_decode(words, meta_layout)                        # [T, kb, rb, rows, 8]
    codes = codes.transpose(0, 2, 3, 1, 4).reshape(Rp, Kc // 4)
    p0 = (codes & 3).astype(np.int64)
    p1 = (codes >> 2).astype(np.int64)
    if np.any(p0 == p1):
        raise ValueError("invalid 2:4 code (p0 == p1)")
    if ci.min() < 0 or ci.max() >= K:
        raise ValueError("col_idx out of range")
    if np.any(np.diff(ci[:, :nnz_vec], axis=1) == 0) and strict:
        raise ValueError("duplicate column in L_t")
    if strict:
        if np.any(ci[:, nnz_vec:] != ci[:, nnz_vec - 1:nnz_vec]):
            raise ValueError("col_idx filler != L_t[nnz_vec-1]")
        if np.any(codes[R:] != CODE_FILLER) or np.any(codes[:, nnz_vec // 4:] != CODE_FILLER):
            raise ValueError("padding row / filler column code != 0x4")
        if np.any(vals[R:] != 0) or np.any(vals[:, nnz_vec // 4:] != 0):
            raise ValueError("padding row / filler column value != 0")
    wc = np.zeros((Rp, Kc // 4, 4), dtype=np.float32)
    np.put_along_axis(wc, p0[..., None], vals[..., 0:1], axis=-1)
    np.put_along_axis(wc, p1[..., None], vals[..., 1:2], axis=-1)
    wc = wc.reshape(Rp, Kc)[:, :nnz_vec]
    dense = np.zeros((Rp, K), dtype=np.float32)
    Lrow = np.repeat(ci[:, :nnz_vec], v, axis=0)
    np.put_along_axis(dense, Lrow, wc, axis=1)
    return dense[:R]


# ---------------------------------------------------------------------------------------------
# Byte formulas (formats.md §1.3, §3.6)
# ---------------------------------------------------------------------------------------------
def nm_bytes(R: int, K: int, n: int, m: int, b_v: int) -> Dict[str, float]:
    G = -(-K // m)
    bits = math.ceil(math.log2(m))
    return {"values": R * G * n * b_v, "meta": R * G * n * bits / 8.0, "idx": 0}


def hinm_bytes(R: int, K: int, v: int, nnz_vec: int, b_v: int) -> Dict[str, float]:
    Rp = roundup(R, v)
    T = Rp // v
    Kc = roundup(nnz_vec, 32)
    b_idx = 2 if K <= 65536 else 4
    return {"values": Rp * (Kc // 2) * b_v, "meta": Rp * Kc / 8.0, "idx": T * Kc * b_idx}


# ---------------------------------------------------------------------------------------------
# Self test
# ---------------------------------------------------------------------------------------------
def self_test(seed: int = 0, verbose: bool = False) -> None:
    rng = np.random.default_rng(seed)
    codes_all = np.array(VALID_CODES_ORDERED, dtype=np.uint8)
    # 1. encoders vs the lookup decoder, bit by bit
    for layout, rows, enc in (("meta16", 16, meta_encode16), ("meta32", 32, meta_encode32)):
        for _ in range(50):
            codes = rng.integers(0, 16, size=(rows, 8)).astype(np.uint8)
            words = enc(codes)
            assert words.shape == (rows,) and words.dtype == np.uint32
            for r in range(rows):
                for j in range(8):
                    wi, sh = meta_lookup(layout, r, j)
                    assert (int(words[wi]) >> sh) & 0xF == codes[r, j], (layout, r, j)
            # every nibble of every word is used exactly once
            seen = {meta_lookup(layout, r, j) for r in range(rows) for j in range(8)}
            assert len(seen) == rows * 8
            assert np.array_equal(meta_decode(words, layout), codes)
        # batched encode == per-block encode
        cb = rng.choice(codes_all, size=(3, 2, rows, 8))
        wb = enc(cb)
        for a in range(3):
            for b in range(2):
                assert np.array_equal(wb[a, b], enc(cb[a, b]))
    # 2. META16 == the hinm_sp quadrant-swap construction (ordered codes only)
    for _ in range(50):
        codes = rng.choice(codes_all, size=(16, 8))
        assert np.array_equal(meta_encode16(codes), meta_encode16_hinm_sp(codes))
    # 3. META32 halves == META16 of each half, re-interleaved
    for _ in range(20):
        codes = rng.choice(codes_all, size=(32, 8))
        w32, top, bot = meta_encode32(codes), meta_encode16(codes[:16]), meta_encode16(codes[16:])
        for g in range(8):
            for t in range(4):
                src = top[2 * g + t] if t < 2 else bot[2 * g + t - 2]
                assert w32[4 * g + t] == src
    # 4. rank-based group top-k == argsort top-k (ties!)
    for m in (4, 8):
        for n in range(1, m):
            s = rng.integers(0, 3, size=(200, 7, m)).astype(np.float32)
            assert np.array_equal(group_topk_mask(s, n), _group_topk_mask_argsort(s, n))
    # 5. stable_topk by brute force
    for _ in range(200):
        v = rng.integers(0, 4, size=rng.integers(1, 12)).astype(np.float64)
        k = int(rng.integers(0, len(v) + 1))
        ref = sorted(sorted(range(len(v)), key=lambda i: (-v[i], i))[:k])
        assert list(stable_topk(v, k)) == ref
    # 6. pack/unpack round trips
    for (R, K, n, m) in [(5, 7, 2, 4), (33, 70, 2, 4), (8, 9, 1, 4), (3, 13, 2, 8), (4, 40, 1, 32),
                         (6, 3, 2, 4)]:
        W = rng.integers(-3, 4, size=(R, K)).astype(np.float32)
        mask = nm_select(np.abs(W), n, m)
        Wm = np.where(mask, W, 0).astype(np.float32)
        for vt in ("f32", "f16", "bf16"):
            Wr = round_value_type(Wm, vt)
            pk = pack_nm(Wr, mask, n, m, vt)
            assert np.array_equal(unpack_nm(pk["values"], pk["pos"], R, K, n, m, vt), Wr)
            if "meta" in pk:
                c = decode_meta32_nm(pk["meta"], R, K)
                G = -(-K // 4)
                pos = pk["pos"].reshape(R, G, 2).astype(np.uint8)
                assert np.array_equal(c[:R, :G], pos[..., 0] | (pos[..., 1] << 2))
                assert np.all(c[R:] == CODE_FILLER) and np.all(c[:, G:] == CODE_FILLER)
    for (R, K, v, vs, layout) in [(40, 70, 32, 0.5, "meta32"), (16, 33, 16, 0.0, "meta16"),
                                  (70, 130, 64, 0.75, "meta32"), (20, 64, 16, 0.5, "meta16"),
                                  (64, 100, 64, 0.3, "meta16")]:
        W = rng.standard_normal((R, K)).astype(np.float32)
        sel = hinm_select(np.abs(W), v, vs)
        Wm = np.where(sel.mask, W, 0).astype(np.float32)
        pk = pack_hinm(Wm, sel.mask, sel.L, v, "f32", layout)
        back = unpack_hinm(pk["values"], pk["col_idx"], pk["meta"], R, K, v, sel.nnz_vec,
                           "f32", layout)
        assert np.array_equal(back, Wm)
        assert sel.mask.sum() == R * sel.nnz_vec // 2
        assert np.all(sel.mask.sum(1) == sel.nnz_vec // 2)
    # 7. GEMM view round trips
    w = rng.standard_normal((6, 3, 2, 5)).astype(np.float32)
    for ko in ("hwc", "chw"):
        assert np.array_equal(from_gemm_view(gemm_view(w, "conv", ko), "conv", w.shape, ko), w)
    # hwc: k = (y*kw + x)*C + c
    Wg = gemm_view(w, "conv", "hwc")
    assert Wg[4, (1 * 5 + 3) * 3 + 2] == w[4, 2, 1, 3]
    Wg = gemm_view(w, "conv", "chw")
    assert Wg[4, (2 * 2 + 1) * 5 + 3] == w[4, 2, 1, 3]
    if verbose:
        print("pruning_ref self-test: OK")


if __name__ == "__main__":
    self_test(verbose=True)
