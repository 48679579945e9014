"""Float64 numpy references for calibration-driven saliency (algorithms.md §10),
written from the spec, independent of sparsec's C++: Wanda's Σx² and scores, and
the SparseGPT sweep (dead inputs, dampening, the upper Cholesky factor of H⁻¹,
lazy blocks of B columns, masks chosen at each group's first column on the
current weights, HiNM's vector level first)."""
from __future__ import annotations

import numpy as np

from pruning_ref import stable_topk


def square_norms(X: np.ndarray) -> np.ndarray:
    """Σ x_j² per feature over the rows of X (n x K), float64."""
    X = X.astype(np.float64)
    return (X * X).sum(axis=0)


def wanda_scores(W: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """S = |W| · ‖X_j‖₂ in float64, rounded once to float32."""
    return (np.abs(W.astype(np.float64)) * np.sqrt(sq)[None, :]).astype(np.float32)


def _keep_largest(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n largest (ties to the lower position)."""
    return np.sort(np.argsort(-scores, kind="stable")[:n])


def sparsegpt(W: np.ndarray, H: np.ndarray, n: int, m: int, block: int = 128,
              damp: float = 0.01, v: int = 0, nnz_vec: int = 0):
    """Returns (updated W with pruned entries 0, mask, per-tile kept columns or None)."""
    W = W.astype(np.float64).copy()
    H = H.astype(np.float64).copy()
    R, K = W.shape
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * np.mean(np.diag(H)) * np.eye(K)
    U = np.linalg.cholesky(np.linalg.inv(H)).T  # Uᵀ U = H⁻¹
    d = np.diag(U)
    keep = np.zeros((R, K), dtype=bool)
    tiles = None
    if v:
        T = -(-R // v)
        tiles = []
        for t in range(T):
            rows = slice(t * v, min(R, (t + 1) * v))
            score = np.zeros(K)
            for r in range(rows.start, rows.stop):  # row order, as the C++ sums
                score += W[r] ** 2 / d ** 2
            tiles.append(stable_topk(score, nnz_vec))
    for i1 in range(0, K, block):
        i2 = min(K, i1 + block)
        err = np.zeros((R, i2 - i1))
        for c in range(i1, i2):
            if tiles is None and c % m == 0:
                cols = np.arange(c, min(K, c + m))
                for r in range(R):
                    kept = _keep_largest(W[r, cols] ** 2 / d[cols] ** 2, n)
                    keep[r, cols[kept]] = True
            if tiles is not None:
                for t, L in enumerate(tiles):
                    where = np.nonzero(L == c)[0]
                    if not len(where) or where[0] % m or where[0] + m > len(L):
                        continue
                    cols = L[where[0]:where[0] + m]
                    for r in range(t * v, min(R, (t + 1) * v)):
                        kept = _keep_largest(W[r, cols] ** 2 / d[cols] ** 2, n)
                        keep[r, cols[kept]] = True
            q = np.where(keep[:, c], W[:, c], 0.0)
            e = (W[:, c] - q) / U[c, c]
            W[:, c:i2] -= np.outer(e, U[c, c:i2])
            W[:, c] = q
            err[:, c - i1] = e
        W[:, i2:] -= err @ U[i1:i2, i2:]
    W[~keep] = 0.0
    return W, keep, tiles


def reconstruction_error(W: np.ndarray, What: np.ndarray, H: np.ndarray) -> float:
    E = W.astype(np.float64) - What.astype(np.float64)
    return float(np.sum((E @ H) * E))
