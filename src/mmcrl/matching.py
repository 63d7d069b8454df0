"""Exact partial matching between the coordinates of two modalities (numpy, and scipy when called).

Given a k_a × k_b cost C between coordinates (e.g. C_ij = 1 − |corr(u_i, v_j)|), the partial-matching problem adds
one dustbin row and column: sending coordinate i of a to the dustbin costs c_u / 2, and so does each coordinate j of b,
so matching i ↔ j is preferred to leaving both unmatched iff C_ij < c_u. Marginals: 1 for each coordinate, k_b for
the dustbin row and k_a for the dustbin column (so the dustbin can absorb every coordinate); both sides then carry
k_a + k_b units of mass. With these integer marginals an optimal plan is a 0/1 partial matching, found exactly as an
assignment problem. (``mmcrl.models.wasserstein`` solves the entropic, differentiable version.)
"""

from __future__ import annotations

import numpy as np


def dustbin_problem(cost: np.ndarray, dustbin_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(augmented (k_a+1) × (k_b+1) cost, source marginal, target marginal) of the OT problem described above."""
    k_a, k_b = cost.shape
    augmented = np.full((k_a + 1, k_b + 1), dustbin_cost / 2.0)
    augmented[:k_a, :k_b] = cost
    augmented[k_a, k_b] = 0.0
    source = np.concatenate([np.ones(k_a), [float(k_b)]])
    target = np.concatenate([np.ones(k_b), [float(k_a)]])
    return augmented, source, target


def exact_partial_matching(cost: np.ndarray, dustbin_cost: float) -> list[tuple[int, int]]:
    """Coordinate pairs (i, j) of an optimal plan of :func:`dustbin_problem` (each coordinate at most once).

    The dustbin row (mass k_b) and column (mass k_a) are split into unit copies, which makes the problem a
    (k_a + k_b)-square assignment: coordinate i ↔ coordinate j at C_ij, a coordinate ↔ a dustbin copy at c_u / 2,
    dustbin copy ↔ dustbin copy at 0 — solved exactly by the Hungarian algorithm (tested against POT's ``ot.emd``).
    """
    cost = np.asarray(cost, dtype=np.float64)
    k_a, k_b = cost.shape
    square = np.zeros((k_a + k_b, k_b + k_a))
    square[:k_a, :k_b] = cost
    square[:k_a, k_b:] = square[k_a:, :k_b] = dustbin_cost / 2.0
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize costs ~1 s per training job

    rows, columns = linear_sum_assignment(square)
    return [(int(i), int(j)) for i, j in zip(rows, columns, strict=True) if i < k_a and j < k_b]


def cross_correlation(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """corr(u_i, v_j) for every column i of u and j of v (a constant column correlates 0 with everything)."""

    def standardised(x: np.ndarray) -> np.ndarray:
        centred = x - x.mean(axis=0)
        scale = centred.std(axis=0)
        return centred / np.where(scale > 0, scale, 1.0)

    return standardised(u).T @ standardised(v) / u.shape[0]
