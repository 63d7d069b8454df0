"""Entropic optimal transport between the latent coordinates of two modalities, with a "not shared" option.

The dustbin problem of :mod:`mmcrl.matching` (a k_a × k_b cost between coordinates plus one dustbin row and column of
cost c_u / 2 per coordinate, marginals (1, …, 1, k_b) and (1, …, 1, k_a)) has a 0/1 partial matching as exact
solution; its entropic plan, computed here in torch for all pairs of modalities at once, is the differentiable
relaxation the structure module learns with.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
from torch import nn

from mmcrl.matching import exact_partial_matching

_SOLVE_RIDGE = 1e-9  # added to the diagonal of the backward pass's linear system (EntropicPlans)
_NO_MASS = -1e30  # log-marginal of padding: exp(f/ε) underflows to exactly 0 and no inf − inf can arise


def padded_layout(shapes: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Several dustbin problems of shapes k_a × k_b laid out in one (K+1) × (K+1) batch, K = the largest k.

    Row i < k_a / column j < k_b is coordinate i / j, rows and columns k_a..K−1 / k_b..K−1 are zero-mass padding and
    the last row / column is the dustbin. Returns (log μ, log ν) as P × (K+1) float64 tensors, the P × K × K mask of
    real cost entries and the P × (K+1) × (K+1) mask of the entries that cost c_u / 2 (one side in the dustbin).
    """
    size = max(max(shape) for shape in shapes)
    log_mu = torch.full((len(shapes), size + 1), _NO_MASS, dtype=torch.float64)
    log_nu = log_mu.clone()
    real = torch.zeros(len(shapes), size, size)
    dustbin = torch.zeros(len(shapes), size + 1, size + 1)
    for p, (k_a, k_b) in enumerate(shapes):
        log_mu[p, :k_a], log_mu[p, size] = 0.0, np.log(k_b)
        log_nu[p, :k_b], log_nu[p, size] = 0.0, np.log(k_a)
        real[p, :k_a, :k_b] = 1.0
        dustbin[p, :k_a, size] = dustbin[p, size, :k_b] = 1.0
    return log_mu, log_nu, real, dustbin


class EntropicPlans(torch.autograd.Function):
    """Entropic OT plans P = argmin_{P ∈ U(μ, ν)} ⟨P, C⟩ − ε H(P) for a batch of costs (P × n × n, float64), with a
    warm start in the forward pass and the implicit-function gradient in the backward pass.

    Forward: the optimum is P_ij = exp((f_i + g_j − C_ij)/ε) for dual potentials f, g. Starting from ``potentials``
    (P × 2 × n: f, g of a previous call, e.g. the previous training step; zeros for a cold start) the kernel
    K_ij = exp((f_i + g_j − C_ij)/ε) is rescaled by ``iterations`` Sinkhorn updates u = μ / (K v), v = ν / (Kᵀ u) and
    P = diag(u) K diag(v); the scalings are then absorbed, f += ε log u, g += ε log v (the new potentials). Warm, u and
    v stay near 1; cold, K ≥ exp(−max C / ε), so the scaling domain is exact in float64 as long as max C / ε stays
    well below ~700, which :func:`check_exponent_range` guards for the structure module. This costs two batched
    matrix-vector products per iteration, where the log domain needs two log-sum-exps. Entries whose marginal is zero
    (padding, log-marginal :data:`_NO_MASS`) get zero mass and keep potential 0.

    Backward: differentiating the optimality conditions ε log P_ij = f_i + g_j − C_ij and P 1 = μ, Pᵀ 1 = ν gives, for
    a loss with gradient G = ∂L/∂P, ∂L/∂C_ij = −P_ij (G_ij − α_i − β_j) / ε, where (α, β) solve the 2n × 2n system
    Σ_j P_ij (α_i + β_j) = Σ_j P_ij G_ij (every row i), Σ_i P_ij (α_i + β_j) = Σ_i P_ij G_ij (every column j),
    determined up to α + c, β − c on every connected part of the plan's support (the system matrix, of quadratic form
    Σ_ij P_ij (α_i + β_j)², is positive semi-definite with that null space, which the right-hand side is orthogonal
    to, and the gradient does not depend on c). It is solved with a ridge of :data:`_SOLVE_RIDGE` on the diagonal:
    always solvable (also when a plan splits into disconnected parts, e.g. without a dustbin, or for padding), and
    off by O(ridge / mass) where the masses are O(1). This is the gradient of the converged plan, at the cost of one
    small batched linear solve, where unrolling the iterations kept an autograd graph of every one of them.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        cost: torch.Tensor,
        log_mu: torch.Tensor,
        log_nu: torch.Tensor,
        epsilon: float,
        iterations: int,
        potentials: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rows, columns = log_mu > _NO_MASS / 2, log_nu > _NO_MASS / 2
        mu, nu = log_mu.exp()[:, :, None], log_nu.exp()[:, :, None]
        f, g = potentials[:, 0], potentials[:, 1]
        # padding entries get kernel 1 (not 0), so no row or column sum is 0; their zero marginal makes u or v 0 there
        support = rows[:, :, None] & columns[:, None, :]
        kernel = torch.exp((f[:, :, None] + g[:, None, :] - cost) / epsilon).where(support, 1.0)
        kernel_t = kernel.transpose(1, 2).contiguous()
        u, v = mu, columns[:, :, None].to(cost.dtype)  # u is overwritten by the first iteration
        for _ in range(iterations):
            u = mu / torch.bmm(kernel, v)
            v = nu / torch.bmm(kernel_t, u)
        plans = u * kernel * v.transpose(1, 2)
        f = (f + epsilon * u.squeeze(2).log()).where(rows, 0.0)
        g = (g + epsilon * v.squeeze(2).log()).where(columns, 0.0)
        ctx.save_for_backward(plans)
        ctx.epsilon = epsilon
        return plans, torch.stack([f, g], dim=1)

    @staticmethod
    def backward(ctx: Any, grad_plans: torch.Tensor, _grad_potentials: torch.Tensor) -> tuple[Any, ...]:
        (plans,) = ctx.saved_tensors
        batch, n, _ = plans.shape
        weighted = plans * grad_plans
        system = torch.zeros(batch, 2 * n, 2 * n, dtype=plans.dtype, device=plans.device)
        system[:, :n, n:], system[:, n:, :n] = plans, plans.transpose(1, 2)
        masses = torch.cat([plans.sum(dim=2), plans.sum(dim=1)], dim=1)
        system.diagonal(dim1=1, dim2=2).copy_(masses + _SOLVE_RIDGE)
        right = torch.cat([weighted.sum(dim=2), weighted.sum(dim=1)], dim=1)
        alpha, beta = torch.linalg.solve(system, right).split(n, dim=1)
        grad_cost = -plans * (grad_plans - alpha[:, :, None] - beta[:, None, :]) / ctx.epsilon
        return grad_cost, None, None, None, None, None


def entropic_plans(
    cost: torch.Tensor,
    log_mu: torch.Tensor,
    log_nu: torch.Tensor,
    epsilon: float,
    iterations: int,
    potentials: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The plans of :class:`EntropicPlans` (differentiable in ``cost``) and the new, detached potentials."""
    if potentials is None:
        potentials = torch.zeros(cost.shape[0], 2, cost.shape[1], dtype=cost.dtype, device=cost.device)
    plans, potentials = EntropicPlans.apply(cost, log_mu, log_nu, epsilon, iterations, potentials)
    return plans, potentials.detach()


def with_dustbins(cost: torch.Tensor, dustbin_entries: torch.Tensor, dustbin_cost: float) -> torch.Tensor:
    """The P × (K+1) × (K+1) float64 costs of the dustbin problems (layout of :func:`padded_layout`): the P × K × K
    coordinate costs, and c_u / 2 where ``dustbin_entries`` (its dustbin mask) is 1."""
    return nn.functional.pad(cost.double(), (0, 1, 0, 1)) + dustbin_entries.double() * (dustbin_cost / 2.0)


def soft_partial_plans(
    costs: list[torch.Tensor],
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The k_a × k_b real blocks W of the entropic OT plans of several dustbin problems, differentiable in the costs.

    Each problem is solved in float64 by :func:`entropic_plans` in the layout of :func:`padded_layout` (all pairs in
    one batch: a few tensor operations per iteration, where POT's ``ot.sinkhorn`` runs a Python loop with convergence
    checks per pair; it gives the same plans, see the tests). Row i of W sums to the mass coordinate i sends to b,
    i.e. 1 minus what it leaves in the dustbin. Returns the plans and the new (detached) potentials (P × 2 × (K+1)).
    """
    log_mu, log_nu, real, dustbin = padded_layout([tuple(cost.shape) for cost in costs])
    size = real.shape[1]
    padded = torch.stack(
        [nn.functional.pad(cost, (0, size - cost.shape[1], 0, size - cost.shape[0])) for cost in costs]
    )
    plans, potentials = entropic_plans(
        with_dustbins(padded, dustbin, dustbin_cost), log_mu, log_nu, epsilon, iterations, potentials
    )
    blocks = [plan[: cost.shape[0], : cost.shape[1]].to(cost.dtype) for plan, cost in zip(plans, costs, strict=True)]
    return blocks, potentials


STRUCTURE_DEFAULTS: dict[str, Any] = {
    "cost": "partial",
    "plan_gradient": True,
    "anneal": True,
    "dustbin": True,
    "epsilon_start": 0.3,
    "epsilon_end": 0.02,
    "dustbin_cost_start": 1.0,
    "dustbin_cost_end": 0.2,
    "anneal_fraction": 0.75,
    "freeze_fraction": 0.9,
    "sinkhorn_iterations": 5,
    "partial_ridge": 0.05,
}
_NO_DUSTBIN_COST = 10.0  # > every cost between coordinates: the plan matches min(k_a, k_b) coordinates
COSTS = ("partial", "correlation", "squared", "w1", "correlation+w1")
_MAX_EXPONENT = 600.0  # exp(−600) ≈ 1e−261: still a normal float64


def check_exponent_range(options: dict[str, Any]) -> None:
    """Refuse a schedule whose kernel exp(−C̃/ε) could underflow in float64 (:class:`EntropicPlans`): the largest
    cost of the dustbin problem (a coordinate cost, ≤ 1 for ``partial`` / ``correlation`` / ``squared``, ≤ 3 with a
    W1 term, plus half the largest dustbin cost) over the smallest ε must stay below :data:`_MAX_EXPONENT`."""
    largest_cost = (3.0 if "w1" in options["cost"] else 1.0) + (
        max(options["dustbin_cost_start"], options["dustbin_cost_end"]) if options["dustbin"] else _NO_DUSTBIN_COST
    ) / 2.0
    smallest_epsilon = min(options["epsilon_start"], options["epsilon_end"])
    if largest_cost / smallest_epsilon > _MAX_EXPONENT:
        raise ValueError(
            f"structure: ε = {smallest_epsilon} is too small for costs up to {largest_cost} "
            f"(cost / ε must stay below {_MAX_EXPONENT:.0f}); raise epsilon_end / epsilon_start"
        )


def standardised(u: torch.Tensor) -> torch.Tensor:
    """Columns of a batch centred and scaled to unit variance."""
    return (u - u.mean(dim=0)) / (u.std(dim=0, unbiased=False) + 1e-6)


def sorted_marginal_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """W1(ũ_i, ±ṽ_j) between standardised 1-D marginals, the better sign: mean |sort ũ_i − sort(±ṽ_j)|."""
    su, sv = torch.sort(standardised(u), dim=0).values, torch.sort(standardised(v), dim=0).values
    same = (su[:, :, None] - sv[:, None, :]).abs().mean(dim=0)
    flipped = (su[:, :, None] + sv.flip(0)[:, None, :]).abs().mean(dim=0)
    return torch.minimum(same, flipped)


def covariance_costs(covariance: torch.Tensor, kind: str, correlation: torch.Tensor | None = None) -> torch.Tensor:
    """Costs between all coordinates from their covariance matrix Σ: ``correlation`` 1 − |ρ_ij| with
    ρ_ij = Σ_ij / (σ_i σ_j) (``correlation``, when given, is ρ already computed), or ``squared``
    min_± E(u_i ∓ u_j)² / (σ_i² + σ_j²) = 1 − 2 |Σ_ij| / (σ_i² + σ_j²) on centred coordinates: the squared difference
    up to sign, scale-free overall but not per coordinate (it equals 1 − |ρ| when σ_i = σ_j and also charges for a
    difference in scale)."""
    if kind == "squared":
        variance = covariance.diagonal()
        return 1.0 - 2.0 * covariance.abs() / (variance[:, None] + variance[None, :] + 1e-6)
    return 1.0 - (correlation_from_covariance(covariance) if correlation is None else correlation).abs()


def correlation_from_covariance(covariance: torch.Tensor) -> torch.Tensor:
    """ρ_ij = Σ_ij / ((σ_i + δ)(σ_j + δ)), δ = 1e-6: the correlation of :func:`standardised` columns."""
    scale = covariance.diagonal().clamp_min(0.0).sqrt() + 1e-6
    return covariance / (scale[:, None] * scale[None, :])


class StructureModule(nn.Module):
    """Learns which coordinates of which modalities encode the same latent: for every pair of modalities (a, b) a
    partial OT plan W_ab ∈ [0, 1]^{k_a × k_b} between their coordinates, with a "not shared" dustbin on both sides.

    W_ab = Sinkhorn_ε(C_ab with a dustbin of cost c_u) on the batch, with C_ab[i, j] = 1 − |ρ_ij·rest|, the partial
    correlation of u_i and v_j given the pair's other coordinates (``cost: partial``, the default, paired data; see
    :meth:`partial_costs`: it gave more exact patterns on yao4 than the marginal correlation, docs/method.md),
    1 − |corr(u_i, v_j)| (``correlation``), the scale-aware squared difference up to sign (``squared``, see
    :func:`covariance_costs`), min_± W1 of the standardised marginals (``w1``, unpaired data), or
    correlation and W1 summed (``correlation+w1``); signs s_ab = sign corr (marginal).
    ε and c_u are annealed from (ε_0, c_0) to (ε_1, c_1) over the first ``anneal_fraction`` of training (geometric /
    linear; defaults ε 0.3 → 0.02, c_u 1.0 → 0.2: at c_u = 1 every correlated pair is cheaper than the dustbin, so
    training starts from a soft, nearly full matching and every coordinate is pulled towards cross-modal information
    before the plan commits — started at (0.1, 0.5) the plan committed within ~25 steps and a coordinate left in the
    dustbin then only had the uniformity term to learn from, so a shared latent could be lost, docs/method.md);
    annealing over the first 3/4 and freezing at 0.9 (was 1/2 and 3/4) gave more exact patterns on yao4 and random
    patterns, docs/method.md; ``anneal`` off: (ε_1, c_1) throughout; ``dustbin`` off: c_u so large that
    min(k_a, k_b) pairs are always matched. All pairs are solved in one batch (:func:`padded_layout`,
    :func:`entropic_plans`) from one covariance matrix of all modalities' coordinates, warm-started from the previous
    step's dual potentials (``sinkhorn_iterations`` per step), differentiable in the encodings when ``plan_gradient``
    (Sinkhorn's mass constraint then makes a loss weighted by W push competing pairs apart). After ``freeze_fraction``
    of training the plans are frozen to the exact (network simplex) partial matching of a running mean of the
    (marginal) correlations, the statistic :func:`mmcrl.recover.recover_structure` reads the structure from.
    Plugs into any model with per-modality encodings: :meth:`alignment_loss` is the plan-weighted contrastive term.
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
        check_exponent_range(self.options)
        self.latent_dims = list(latent_dims)
        self.pairs = list(itertools.combinations(range(len(latent_dims)), 2))
        self.shapes = [(latent_dims[a], latent_dims[b]) for a, b in self.pairs]
        log_mu, log_nu, real, dustbin = padded_layout(self.shapes)
        size = real.shape[1]
        offsets = np.cumsum([0, *latent_dims])
        total = int(offsets[-1])
        block_index = torch.zeros(len(self.pairs), size, size, dtype=torch.long)  # flat index into Σk × Σk
        pair_index = torch.full((len(self.pairs), 2 * size), total, dtype=torch.long)  # total: an independent unit
        for p, (a, b) in enumerate(self.pairs):
            rows, columns = torch.arange(offsets[a], offsets[a + 1]), torch.arange(offsets[b], offsets[b + 1])
            block_index[p, : latent_dims[a], : latent_dims[b]] = rows[:, None] * total + columns[None, :]
            pair_index[p, : latent_dims[a]], pair_index[p, size : size + latent_dims[b]] = rows, columns
        buffers = {
            "log_mu": log_mu,
            "log_nu": log_nu,
            "real": real,
            "block_index": block_index,
            "pair_index": pair_index,
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)
        self.register_buffer("dustbin_entries", dustbin.double(), persistent=False)
        self.register_buffer("running_correlation", torch.zeros(total, total))
        self.register_buffer("frozen_plans", torch.zeros(len(self.pairs), size, size))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))
        self.register_buffer("potentials", torch.zeros(len(self.pairs), 2, size + 1, dtype=torch.float64))

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

    def pair_blocks(self, matrix: torch.Tensor) -> torch.Tensor:
        """The P × K × K blocks [k_a × k_b, zero-padded] of a matrix over all coordinates, one per pair (a, b)."""
        return matrix.take(self.block_index) * self.real

    def costs(self, encodings: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(P × K × K costs C_ab, Σk × Σk correlation matrix of all coordinates) on the batch."""
        stacked = torch.cat(encodings, dim=1)
        centred = stacked - stacked.mean(dim=0)
        covariance = centred.T @ centred / centred.shape[0]
        correlation = correlation_from_covariance(covariance)
        kind = self.options["cost"]
        if kind == "partial":
            return self.partial_costs(correlation), correlation
        if kind == "w1":
            return self.marginal_costs(encodings), correlation
        cost = self.pair_blocks(
            covariance_costs(covariance, "squared" if kind == "squared" else "correlation", correlation)
        )
        if kind == "correlation+w1":
            cost = cost + self.marginal_costs(encodings)
        return cost, correlation

    def partial_costs(self, correlation: torch.Tensor) -> torch.Tensor:
        """P × K × K zero-padded costs 1 − |ρ_ij·rest| of every pair (a, b): the partial correlation of u_i and v_j
        given all the other coordinates of a and b.

        With R the (k_a + k_b) × (k_a + k_b) correlation matrix of the pair's coordinates and Ω = (R + λ I)⁻¹
        (λ = ``partial_ridge``: coordinates that are nearly copies of each other make R singular),
        ρ_ij·rest = −Ω_ij / √(Ω_ii Ω_jj). Two coordinates that encode the same latent stay partially correlated; two
        that are correlated only through what other coordinates already carry (functions of other shared latents,
        or a latent the DAG makes predictable from those a modality sees) are not. All pairs are inverted in one
        batch: each pair's coordinates are laid out in 2K slots (``pair_index``), padded with an independent unit.
        """
        size = self.real.shape[1]
        extended = nn.functional.pad(correlation, (0, 1, 0, 1))
        extended[-1, -1] = 1.0
        blocks = extended[self.pair_index[:, :, None], self.pair_index[:, None, :]]  # a new tensor: add in place
        blocks.diagonal(dim1=1, dim2=2).add_(self.options["partial_ridge"])
        precision = torch.linalg.inv(blocks)
        scale = precision.diagonal(dim1=1, dim2=2).sqrt()
        partial = -precision / (scale[:, :, None] * scale[:, None, :])
        return (1.0 - partial[:, :size, size:].abs()) * self.real

    def marginal_costs(self, encodings: list[torch.Tensor]) -> torch.Tensor:
        """P × K × K zero-padded :func:`sorted_marginal_distance` of every pair (a loop over pairs: sorting)."""
        size = self.real.shape[1]
        return torch.stack(
            [
                nn.functional.pad(sorted_marginal_distance(encodings[a], encodings[b]), (0, size - k_b, 0, size - k_a))
                for (a, b), (k_a, k_b) in zip(self.pairs, self.shapes, strict=True)
            ]
        )

    def forward(self, encodings: list[torch.Tensor], progress: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W_ab, s_ab) for every pair (a, b) in ``self.pairs``; ``progress`` ∈ [0, 1) is the fraction of training
        done (in training mode, the running correlations and potentials are updated and the plans frozen on time)."""
        if self.training and not self.frozen and progress >= self.options["freeze_fraction"]:
            self.freeze_plans()
        if self.frozen:
            plans, signs = self.frozen_plans, torch.sign(self.pair_blocks(self.running_correlation))
        else:
            cost, correlation = self.costs(encodings)
            if self.training:
                self.running_correlation.lerp_(correlation.detach(), 0.1)
            if not self.options["plan_gradient"]:
                cost = cost.detach()
            epsilon, dustbin_cost = self.schedule(progress)
            plans, potentials = entropic_plans(
                with_dustbins(cost, self.dustbin_entries, dustbin_cost),
                self.log_mu,
                self.log_nu,
                epsilon,
                self.options["sinkhorn_iterations"],
                self.potentials,
            )
            plans = plans.to(encodings[0].dtype)
            signs = torch.sign(self.pair_blocks(correlation.detach()))
            if self.training:
                self.potentials.copy_(potentials)
        # unbind, not plans[p]: one backward node for all pairs instead of one per pair plus the accumulation
        return [
            (plan[:k_a, :k_b], sign[:k_a, :k_b])
            for plan, sign, (k_a, k_b) in zip(plans.unbind(0), signs.unbind(0), self.shapes, strict=True)
        ]

    def alignment_loss(self, encodings: list[torch.Tensor], progress: float, tau: float) -> torch.Tensor:
        """Σ_{a<b} InfoNCE_{W_ab, s_ab}(u_a, u_b): the contrastive term weighted by the plans."""
        from mmcrl.methods.losses import pairwise_alignment  # here, not at the top: mmcrl.methods imports this module

        return pairwise_alignment(encodings, self.pairs, self(encodings, progress), tau)

    @torch.no_grad()
    def freeze_plans(self) -> None:
        """Fix every W_ab to the exact partial matching of the running correlations (dustbin cost c_1)."""
        _, dustbin_cost = self.schedule(1.0)
        costs = (1.0 - self.pair_blocks(self.running_correlation).abs()).cpu().numpy()
        self.frozen_plans.zero_()
        for p, (k_a, k_b) in enumerate(self.shapes):
            for i, j in exact_partial_matching(costs[p, :k_a, :k_b], dustbin_cost):
                self.frozen_plans[p, i, j] = 1.0
        self.frozen.fill_(True)
