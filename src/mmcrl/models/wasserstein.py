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


_NO_MASS = -1e30  # log-marginal of padding: exp(f/ε) underflows to exactly 0 and no inf − inf can arise


def soft_partial_plans(
    costs: list[torch.Tensor],
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The k_a × k_b real blocks W of the entropic OT plans of several dustbin problems, differentiable in the costs.

    W = argmin_{P ∈ U(μ, ν)} ⟨P, C̃⟩ − ε H(P) on each augmented cost C̃, by log-domain Sinkhorn (stable for small ε),
    in float64. Row i of W sums to the mass coordinate i sends to b, i.e. 1 minus what it leaves in the dustbin.
    Each pair's dustbin problem is padded to (K+1) × (K+1), K = the largest k, with zero-mass rows and columns, and
    ``iterations`` alternating updates f = ε log μ − ε LSE_j((g_j − C̃_ij)/ε), g = ε log ν − ε LSE_i((f_i − C̃_ij)/ε)
    run on the whole batch: a few tensor operations per iteration for all pairs, where POT's ``ot.sinkhorn`` runs a
    Python loop with convergence checks per pair (see benchmarks/RESULTS.md). ``potentials`` (P × 2 × (K+1), the
    dual potentials f, g of a previous call) warm-start it, so a few iterations track a cost that
    changes a little between training steps; gradients flow through the iterations run. Returns the k_a × k_b plans
    and the new (detached) potentials.
    """
    size = max(max(cost.shape) for cost in costs) + 1
    padded, log_source, log_target = [], [], []
    for cost in costs:
        augmented, source, target = dustbin_problem(cost.double(), dustbin_cost)
        rows, columns = augmented.shape
        padded.append(torch.nn.functional.pad(augmented, (0, size - columns, 0, size - rows)))
        log_source.append(torch.nn.functional.pad(source.log(), (0, size - rows), value=_NO_MASS))
        log_target.append(torch.nn.functional.pad(target.log(), (0, size - columns), value=_NO_MASS))
    cost_batch, log_mu, log_nu = torch.stack(padded), torch.stack(log_source), torch.stack(log_target)
    if potentials is None:
        f, g = torch.zeros_like(log_mu), torch.zeros_like(log_nu)
    else:
        f, g = potentials[:, 0], potentials[:, 1]
    for _ in range(iterations):
        f = epsilon * log_mu - epsilon * torch.logsumexp((g[:, None, :] - cost_batch) / epsilon, dim=2)
        g = epsilon * log_nu - epsilon * torch.logsumexp((f[:, :, None] - cost_batch) / epsilon, dim=1)
    plans = torch.exp((f[:, :, None] + g[:, None, :] - cost_batch) / epsilon)
    blocks = [plan[: cost.shape[0], : cost.shape[1]].to(cost.dtype) for plan, cost in zip(plans, costs, strict=True)]
    return blocks, torch.stack([f, g], dim=1).detach()
