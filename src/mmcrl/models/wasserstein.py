"""Optimal transport between the latent coordinates of two modalities, with a "not shared" option.

Given a k_a × k_b cost C between coordinates (e.g. C_ij = 1 − |corr(u_i, v_j)|), the partial-matching problem adds
one dustbin row and column: sending coordinate i of a to the dustbin costs c_u / 2, and so does each coordinate j of b,
so matching i ↔ j is preferred to leaving both unmatched iff C_ij < c_u. Marginals: 1 for each coordinate, k_b for
the dustbin row and k_a for the dustbin column (so the dustbin can absorb every coordinate); both sides then carry
k_a + k_b units of mass. With these integer marginals the exact (network-simplex) plan is a 0/1 partial matching; the
entropic plan is its differentiable relaxation.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import ot
import torch
from torch import nn


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


STRUCTURE_DEFAULTS: dict[str, Any] = {
    "cost": "correlation",
    "plan_gradient": True,
    "anneal": True,
    "dustbin": True,
    "epsilon_start": 0.1,
    "epsilon_end": 0.02,
    "dustbin_cost_start": 0.5,
    "dustbin_cost_end": 0.2,
    "anneal_fraction": 0.5,
    "freeze_fraction": 0.5,
    "sinkhorn_iterations": 10,
}
_NO_DUSTBIN_COST = 1e3  # a dustbin this expensive is never used: the plan matches min(k_a, k_b) coordinates
COSTS = ("correlation", "w1", "correlation+w1")


def standardised(u: torch.Tensor) -> torch.Tensor:
    """Columns of a batch centred and scaled to unit variance."""
    return (u - u.mean(dim=0)) / (u.std(dim=0, unbiased=False) + 1e-6)


def sorted_marginal_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """W1(ũ_i, ±ṽ_j) between standardised 1-D marginals, the better sign: mean |sort ũ_i − sort(±ṽ_j)|."""
    su, sv = torch.sort(standardised(u), dim=0).values, torch.sort(standardised(v), dim=0).values
    same = (su[:, :, None] - sv[:, None, :]).abs().mean(dim=0)
    flipped = (su[:, :, None] + sv.flip(0)[:, None, :]).abs().mean(dim=0)
    return torch.minimum(same, flipped)


class StructureModule(nn.Module):
    """Learns which coordinates of which modalities encode the same latent: for every pair of modalities (a, b) a
    partial OT plan W_ab ∈ [0, 1]^{k_a × k_b} between their coordinates, with a "not shared" dustbin on both sides.

    W_ab = Sinkhorn_ε(C_ab with a dustbin of cost c_u) on the batch, C_ab[i, j] = 1 − |corr(u_i, v_j)| (``cost``
    ``correlation``, paired data), min_± W1 of the standardised marginals (``w1``, unpaired data) or both summed
    (``correlation+w1``); signs s_ab = sign corr. ε and c_u are annealed from (ε_0, c_0) to (ε_1, c_1) over the first
    ``anneal_fraction`` of training (geometric / linear; ``anneal`` off: (ε_1, c_1) throughout; ``dustbin`` off: c_u
    so large that min(k_a, k_b) pairs are always matched). Sinkhorn runs for all pairs in one batch, warm-started
    from the previous step's dual potentials (``sinkhorn_iterations`` per step), and is differentiable in the
    encodings when ``plan_gradient`` (Sinkhorn's mass constraint then makes a loss weighted by W push competing pairs
    apart). After ``freeze_fraction`` of training the plans are frozen to the exact (network simplex) partial matching
    of a running mean of the correlations. Plugs into any model with per-modality encodings:
    :meth:`alignment_loss` is the plan-weighted contrastive term.
    """

    def __init__(self, latent_dims: list[int], options: dict[str, Any] | None = None) -> None:
        super().__init__()
        unknown = sorted(set(options or {}) - set(STRUCTURE_DEFAULTS))
        if unknown:
            known = ", ".join(STRUCTURE_DEFAULTS)
            raise ValueError(f"unknown structure option(s) {', '.join(unknown)}; known: {known}")
        self.options = STRUCTURE_DEFAULTS | (options or {})
        if self.options["cost"] not in COSTS:
            raise ValueError(f"structure cost {self.options['cost']!r} is not one of {', '.join(COSTS)}")
        self.pairs = list(itertools.combinations(range(len(latent_dims)), 2))
        for a, b in self.pairs:
            shape = (latent_dims[a], latent_dims[b])
            self.register_buffer(f"running_correlation_{a}_{b}", torch.zeros(shape))
            self.register_buffer(f"frozen_plan_{a}_{b}", torch.zeros(shape))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))
        size = max(latent_dims) + 1
        self.register_buffer("potentials", torch.zeros(len(self.pairs), 2, size, dtype=torch.float64))

    def schedule(self, progress: float) -> tuple[float, float]:
        """(ε, c_u) at this point of training."""
        options = self.options
        dustbin_end = options["dustbin_cost_end"] if options["dustbin"] else _NO_DUSTBIN_COST
        dustbin_start = options["dustbin_cost_start"] if options["dustbin"] else _NO_DUSTBIN_COST
        if not options["anneal"]:
            return options["epsilon_end"], dustbin_end
        t = min(1.0, progress / options["anneal_fraction"])
        epsilon = options["epsilon_start"] * (options["epsilon_end"] / options["epsilon_start"]) ** t
        return epsilon, dustbin_start + t * (dustbin_end - dustbin_start)

    def cost(self, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cost C_ab, correlation matrix) on the batch."""
        correlation = standardised(u).T @ standardised(v) / u.shape[0]
        kind = self.options["cost"]
        if kind == "w1":
            return sorted_marginal_distance(u, v), correlation
        cost = 1.0 - correlation.abs()
        if kind == "correlation+w1":
            cost = cost + sorted_marginal_distance(u, v)
        return cost, correlation

    def forward(self, encodings: list[torch.Tensor], progress: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W_ab, s_ab) for every pair (a, b) in ``self.pairs``; ``progress`` ∈ [0, 1) is the fraction of training
        done (in training mode, the running correlations and potentials are updated and the plans frozen on time)."""
        if self.training and not self.frozen and progress >= self.options["freeze_fraction"]:
            self.freeze_plans()
        running = [getattr(self, f"running_correlation_{a}_{b}") for a, b in self.pairs]
        if self.frozen:
            frozen = [getattr(self, f"frozen_plan_{a}_{b}") for a, b in self.pairs]
            return [(plan, torch.sign(average)) for plan, average in zip(frozen, running, strict=True)]
        costs, signs = [], []
        for (a, b), average in zip(self.pairs, running, strict=True):
            cost, correlation = self.cost(encodings[a], encodings[b])
            if self.training:
                average.mul_(0.9).add_(0.1 * correlation.detach())
            costs.append(cost if self.options["plan_gradient"] else cost.detach())
            signs.append(torch.sign(correlation.detach()))
        epsilon, dustbin_cost = self.schedule(progress)
        plans, potentials = soft_partial_plans(
            costs, dustbin_cost, epsilon, self.options["sinkhorn_iterations"], self.potentials
        )
        if self.training:
            self.potentials.copy_(potentials)
        return list(zip(plans, signs, strict=True))

    def alignment_loss(self, encodings: list[torch.Tensor], progress: float, tau: float) -> torch.Tensor:
        """Σ_{a<b} InfoNCE_{W_ab, s_ab}(u_a, u_b): the contrastive term weighted by the plans."""
        from mmcrl.methods.losses import pairwise_alignment  # here, not at the top: mmcrl.methods imports this module

        return pairwise_alignment(encodings, self.pairs, self(encodings, progress), tau)

    @torch.no_grad()
    def freeze_plans(self) -> None:
        """Fix every W_ab to the exact partial matching of the running correlations (dustbin cost c_1)."""
        _, dustbin_cost = self.schedule(1.0)
        for a, b in self.pairs:
            running = getattr(self, f"running_correlation_{a}_{b}")
            frozen = getattr(self, f"frozen_plan_{a}_{b}")
            frozen.zero_()
            for i, j in exact_partial_matching((1.0 - running.abs()).cpu().numpy(), dustbin_cost):
                frozen[i, j] = 1.0
        self.frozen.fill_(True)
