"""Optimal transport between the latent coordinates of two modalities, with a "not shared" option.

Given a k_a × k_b cost C between coordinates (e.g. C_ij = 1 − |corr(u_i, v_j)|), the partial-matching problem adds
one dustbin row and column: sending coordinate i of a to the dustbin costs c_u / 2, and so does each coordinate j of b,
so matching i ↔ j is preferred to leaving both unmatched iff C_ij < c_u. Marginals: 1 for each coordinate, k_b for
the dustbin row and k_a for the dustbin column (so the dustbin can absorb every coordinate); both sides then carry
k_a + k_b units of mass. With these integer marginals the exact (network-simplex) plan is a 0/1 partial matching; the
entropic plan is its differentiable relaxation.
"""

from __future__ import annotations

import numpy as np
import ot
import torch


def dustbin_problem(cost, dustbin_cost: float):  # noqa: ANN001, ANN201 (numpy arrays or torch tensors alike)
    """(augmented (k_a+1) × (k_b+1) cost, source marginal, target marginal); numpy in → numpy out, torch → torch."""
    nx = ot.backend.get_backend(cost)
    k_a, k_b = cost.shape
    column = nx.full((k_a, 1), dustbin_cost / 2.0, type_as=cost)
    row = nx.concatenate([nx.full((1, k_b), dustbin_cost / 2.0, type_as=cost), nx.zeros((1, 1), type_as=cost)], axis=1)
    augmented = nx.concatenate([nx.concatenate([cost, column], axis=1), row], axis=0)
    source = nx.concatenate([nx.ones((k_a,), type_as=cost), nx.full((1,), float(k_b), type_as=cost)])
    target = nx.concatenate([nx.ones((k_b,), type_as=cost), nx.full((1,), float(k_a), type_as=cost)])
    return augmented, source, target


def exact_partial_matching(cost: np.ndarray, dustbin_cost: float) -> list[tuple[int, int]]:
    """Coordinate pairs (i, j) matched by the exact OT plan of the dustbin problem (each coordinate at most once)."""
    augmented, source, target = dustbin_problem(np.asarray(cost, dtype=np.float64), dustbin_cost)
    plan = ot.emd(source, target, augmented)
    k_a, k_b = cost.shape
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(plan[:k_a, :k_b] > 0.5), strict=True)]


def soft_partial_plan(
    cost: torch.Tensor,
    dustbin_cost: float,
    epsilon: float,
    max_iterations: int,
    stop_threshold: float,
    warmstart: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The k_a × k_b real block W of the entropic OT plan of the dustbin problem, differentiable in ``cost``.

    W = argmin_{P ∈ U(μ, ν)} ⟨P, C̃⟩ − ε H(P) on the augmented cost C̃, solved by POT's log-domain Sinkhorn (stable
    for small ε) in float64 on the torch backend, so gradients flow through the iterations. Row i of W sums to the
    mass coordinate i sends to b, i.e. 1 minus what it leaves in the dustbin. Also returns the log-scalings
    (log u, log v) of the solution: passing them back as ``warmstart`` on the next, slightly different cost makes a
    few iterations enough (gradients then flow through those iterations only).
    """
    augmented, source, target = dustbin_problem(cost.double(), dustbin_cost)
    plan, log = ot.sinkhorn(
        source,
        target,
        augmented,
        epsilon,
        method="sinkhorn_log",
        numItermax=max_iterations,
        stopThr=stop_threshold,
        warn=False,
        log=True,
        warmstart=warmstart,
    )
    k_a, k_b = cost.shape
    return plan[:k_a, :k_b].to(cost.dtype), (log["log_u"].detach(), log["log_v"].detach())
