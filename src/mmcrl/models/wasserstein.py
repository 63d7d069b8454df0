"""Optimal transport between the latent coordinates of two modalities, with a "not shared" option.

Given a k_a × k_b cost C between coordinates (e.g. C_ij = 1 − |corr(u_i, v_j)|), the partial-matching problem adds
one dustbin row and column: sending coordinate i of a to the dustbin costs c_u / 2, and so does each coordinate j of b,
so matching i ↔ j is preferred to leaving both unmatched iff C_ij < c_u. Marginals: 1 for each coordinate, k_b for
the dustbin row and k_a for the dustbin column (so the dustbin can absorb every coordinate); both sides then carry
k_a + k_b units of mass. With these integer marginals the exact (network-simplex) plan is a 0/1 partial matching.
"""

from __future__ import annotations

import numpy as np
import ot


def dustbin_problem(cost: np.ndarray, dustbin_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(augmented (k_a+1) × (k_b+1) cost, source marginal, target marginal) of the partial-matching problem."""
    k_a, k_b = cost.shape
    augmented = np.full((k_a + 1, k_b + 1), dustbin_cost / 2.0)
    augmented[:k_a, :k_b] = cost
    augmented[k_a, k_b] = 0.0
    source = np.concatenate([np.ones(k_a), [float(k_b)]])
    target = np.concatenate([np.ones(k_b), [float(k_a)]])
    return augmented, source, target


def exact_partial_matching(cost: np.ndarray, dustbin_cost: float) -> list[tuple[int, int]]:
    """Coordinate pairs (i, j) matched by the exact OT plan of the dustbin problem (each coordinate at most once)."""
    augmented, source, target = dustbin_problem(np.asarray(cost, dtype=np.float64), dustbin_cost)
    plan = ot.emd(source, target, augmented)
    k_a, k_b = cost.shape
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(plan[:k_a, :k_b] > 0.5), strict=True)]
