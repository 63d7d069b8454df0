"""Entropic optimal transport between the latent coordinates of two modalities, with a "not shared" option.

The dustbin problem of :mod:`mmcrl.matching` (a k_a × k_b cost between coordinates plus one dustbin row and column of
cost c_u / 2 per coordinate, marginals (1, …, 1, k_b) and (1, …, 1, k_a)) has a 0/1 partial matching as exact
solution; its entropic plan, computed here for all pairs of modalities at once, is the differentiable relaxation the
structure module learns with.

Everything after the batch covariance of the encodings acts on matrices of a few coordinates, where a training step
would spend its time in per-operation overhead (~100 torch operations forward and as many backward took 15–30 % of
a step at batch 128). So the module's plans are one autograd Function, :class:`StructurePlans`, computed in float64
NumPy with a hand-derived backward pass: covariance → correlation → costs → entropic plans forward, and the chain
rule through each of them backward (:func:`covariance_costs`, :func:`sinkhorn`, :func:`sinkhorn_backward`; checked
against finite differences in the tests). Only the W1 marginal cost (sorting) stays in torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from mmcrl.matching import exact_partial_matching

_SOLVE_RIDGE = 1e-9  # added to the diagonal of the backward pass's linear system (sinkhorn_backward)
_SCALE_FLOOR = 1e-6  # added to standard deviations: ρ_ij = Σ_ij / ((σ_i + δ)(σ_j + δ))


class PairLayout:
    """Several dustbin problems of shapes k_a × k_b laid out in one batch of n × n problems, n = K + 1, K = the
    largest k, and everything about that layout that does not change from one training step to the next.

    Row i < k_a / column j < k_b is coordinate i / j, rows and columns k_a..K−1 / k_b..K−1 are zero-mass padding and
    the last row / column is the dustbin. ``mu``, ``nu``: P × n × 1 marginals (1 per coordinate, k_b / k_a for the
    dustbins, 0 for padding); ``rows``, ``columns``: P × n, True where the marginal is positive; ``support``: P × n × n,
    their outer AND; ``real``: P × K × K, 1 on the real cost entries; ``dustbin``: P × n × n, 1 on the entries that
    cost c_u / 2 (one side in the dustbin). Given the modalities' k_m (``latent_dims``: one problem per pair of
    modalities a < b, ``pairs``), it also maps the pairs into the T × T covariance of all T = Σ k_m coordinates:
    ``block_index`` (P × K × K flat indices of the k_a × k_b cross block, 0 on padding) and ``pair_index``
    (P × 2K × 2K flat indices into the (T+1) × (T+1) matrix that adds an independent unit T, of the correlation
    matrix of each pair's coordinates, a then b, each side padded to K with that unit).
    """

    def __init__(self, shapes: list[tuple[int, int]]) -> None:
        self.shapes = list(shapes)
        self.size = size = max(max(shape) for shape in self.shapes)
        count, n = len(self.shapes), size + 1
        self.mu, self.nu = np.zeros((count, n, 1)), np.zeros((count, n, 1))
        self.real, self.dustbin = np.zeros((count, size, size)), np.zeros((count, n, n))
        for p, (k_a, k_b) in enumerate(self.shapes):
            self.mu[p, :k_a], self.mu[p, size] = 1.0, k_b
            self.nu[p, :k_b], self.nu[p, size] = 1.0, k_a
            self.real[p, :k_a, :k_b] = 1.0
            self.dustbin[p, :k_a, size] = self.dustbin[p, size, :k_b] = 1.0
        self.rows, self.columns = self.mu[:, :, 0] > 0, self.nu[:, :, 0] > 0
        self.support = self.rows[:, :, None] & self.columns[:, None, :]
        self.unit_scaling = self.columns[:, :, None].astype(np.float64)  # Sinkhorn's starting v: 1, 0 on padding

    @classmethod
    def of_dims(cls, latent_dims: list[int]) -> PairLayout:
        """One problem per pair of modalities a < b (``pairs``), with the maps into the covariance of all
        coordinates."""
        pairs = list(itertools.combinations(range(len(latent_dims)), 2))
        layout = cls([(latent_dims[a], latent_dims[b]) for a, b in pairs])
        size, offsets = layout.size, np.cumsum([0, *latent_dims])
        layout.pairs, layout.total = pairs, int(offsets[-1])
        layout.block_index = np.zeros((len(pairs), size, size), dtype=np.int64)
        slots = np.full((len(pairs), 2 * size), layout.total, dtype=np.int64)
        for p, (a, b) in enumerate(pairs):
            rows, columns = np.arange(offsets[a], offsets[a + 1]), np.arange(offsets[b], offsets[b + 1])
            layout.block_index[p, : latent_dims[a], : latent_dims[b]] = rows[:, None] * layout.total + columns
            slots[p, : latent_dims[a]], slots[p, size : size + latent_dims[b]] = rows, columns
        layout.pair_index = slots[:, :, None] * (layout.total + 1) + slots[:, None, :]
        return layout

    def blocks(self, matrix: np.ndarray) -> np.ndarray:
        """The P × K × K cross blocks [k_a × k_b, zero-padded] of a T × T matrix over all coordinates."""
        return matrix.ravel()[self.block_index] * self.real

    def scatter_blocks(self, blocks: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`blocks`: a T × T matrix with the (real entries of the) blocks added in place."""
        flat = np.bincount(self.block_index.ravel(), (blocks * self.real).ravel(), self.total * self.total)
        return flat.reshape(self.total, self.total)


def correlation(covariance: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """ρ_ij = Σ_ij / (s_i s_j), s_i = √Σ_ii + δ (the correlation of standardised columns), and its backward pass
    ∂L/∂ρ ↦ ∂L/∂Σ: ∂L/∂Σ_ij = G_ij / (s_i s_j), plus on the diagonal ∂L/∂s_k / (2 √Σ_kk) with
    ∂L/∂s_k = −(Σ_j G_kj ρ_kj + Σ_i G_ik ρ_ik) / s_k."""
    root = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    scale = root + _SCALE_FLOOR
    rho = covariance / np.outer(scale, scale)

    def backward(grad: np.ndarray) -> np.ndarray:
        weighted = grad * rho
        grad_scale = -(weighted.sum(axis=1) + weighted.sum(axis=0)) / scale
        grad_covariance = grad / np.outer(scale, scale)
        grad_covariance[np.diag_indices_from(grad_covariance)] += np.divide(
            grad_scale, 2.0 * root, out=np.zeros_like(root), where=root > 0
        )
        return grad_covariance

    return rho, backward


def covariance_costs(
    covariance: np.ndarray, kind: str | None, layout: PairLayout, ridge: float
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(P × K × K zero-padded costs of every pair, the T × T correlation ρ, the backward pass ∂L/∂C ↦ ∂L/∂Σ) from the
    covariance Σ of all coordinates, for the paired-data costs:

    - ``correlation``: C_ij = 1 − |ρ_ij|;
    - ``squared``: min_± E(u_i ∓ v_j)² / (σ_i² + σ_j²) = 1 − 2 |Σ_ij| / (σ_i² + σ_j²) on centred coordinates: the
      squared difference up to sign, which equals 1 − |ρ_ij| when σ_i = σ_j and also charges for a difference in
      scale;
    - ``partial``: C_ij = 1 − |ρ_ij·rest|, the partial correlation of u_i and v_j given the pair's other coordinates:
      with R the (k_a + k_b)-square correlation matrix of the pair's coordinates and Ω = (R + λ I)⁻¹ (λ = ``ridge``),
      ρ_ij·rest = −Ω_ij / √(Ω_ii Ω_jj); all pairs are inverted in one batch, each laid out in 2K slots padded with
      an independent unit (``pair_index``). Backward: with H = ∂L/∂Π on the cross block of Π = −Ω / (d dᵀ),
      d = √diag Ω: ∂L/∂Ω = −H / (d dᵀ), plus ∂L/∂d_k / (2 d_k) on the diagonal with
      ∂L/∂d_k = −(Σ_j H_kj Π_kj + Σ_i H_ik Π_ik) / d_k; then ∂L/∂R = −Ω (∂L/∂Ω) Ω, added back into ρ's entries;
    - None: no covariance cost (zeros; the ``w1`` cost is all torch).

    The derivative of |x| is taken as sign(x) (0 at 0, as torch's).
    """
    rho, correlation_backward = correlation(covariance)
    if kind is None:
        return np.zeros_like(layout.real), rho, lambda grad: np.zeros_like(covariance)
    if kind == "correlation":
        block = layout.blocks(rho)
        return (
            (1.0 - np.abs(block)) * layout.real,
            rho,
            lambda grad: correlation_backward(layout.scatter_blocks(-np.sign(block) * grad)),
        )
    if kind == "squared":
        variance = np.diag(covariance)
        block = layout.blocks(covariance)
        denominator = layout.blocks(variance[:, None] + variance[None, :]) + 1e-6

        def squared_backward(grad: np.ndarray) -> np.ndarray:
            grad = grad * layout.real
            grad_covariance = layout.scatter_blocks(-2.0 * np.sign(block) * grad / denominator)
            grad_denominator = layout.scatter_blocks(2.0 * np.abs(block) * grad / denominator**2)
            grad_covariance[np.diag_indices_from(grad_covariance)] += grad_denominator.sum(1) + grad_denominator.sum(0)
            return grad_covariance

        return (1.0 - 2.0 * np.abs(block) / denominator) * layout.real, rho, squared_backward
    if kind != "partial":
        raise ValueError(f"no covariance cost {kind!r}")
    size, extended_size = layout.size, layout.total + 1
    extended = np.zeros((extended_size, extended_size))
    extended[:-1, :-1], extended[-1, -1] = rho, 1.0
    precision = np.linalg.inv(extended.ravel()[layout.pair_index] + ridge * np.eye(2 * size))
    root = np.sqrt(np.einsum("pii->pi", precision))
    outer = root[:, :, None] * root[:, None, :]
    partial = -precision / outer

    def partial_backward(grad: np.ndarray) -> np.ndarray:
        grad_partial = np.zeros_like(partial)
        grad_partial[:, :size, size:] = -np.sign(partial[:, :size, size:]) * layout.real * grad
        weighted = grad_partial * partial
        grad_root = -(weighted.sum(axis=2) + weighted.sum(axis=1)) / root
        grad_precision = -grad_partial / outer
        diagonal = np.arange(2 * size)
        grad_precision[:, diagonal, diagonal] += grad_root / (2.0 * root)
        grad_blocks = -precision @ grad_precision @ precision
        grad_extended = np.bincount(layout.pair_index.ravel(), grad_blocks.ravel(), extended_size**2)
        return correlation_backward(grad_extended.reshape(extended_size, extended_size)[:-1, :-1])

    return (1.0 - np.abs(partial[:, :size, size:])) * layout.real, rho, partial_backward


def sinkhorn(
    cost: np.ndarray, layout: PairLayout, dustbin_cost: float, epsilon: float, iterations: int, potentials: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entropic OT plans P = argmin_{P ∈ U(μ, ν)} ⟨P, C̃⟩ − ε H(P) of the dustbin problems (float64), warm-started.

    C̃ is the P × K × K ``cost`` padded with the dustbin row and column (c_u / 2 where ``layout.dustbin`` is 1). The
    optimum is P_ij = exp((f_i + g_j − C̃_ij)/ε) for dual potentials f, g. Starting from ``potentials`` (P × 2 × (K+1):
    f, g of a previous call, e.g. the previous training step; zeros for a cold start) the kernel
    K_ij = exp((f_i + g_j − C̃_ij)/ε) is rescaled by ``iterations`` Sinkhorn updates u = μ / (K v), v = ν / (Kᵀ u) and
    P = diag(u) K diag(v); the scalings are then absorbed, f += ε log u, g += ε log v (the new potentials). Warm, u
    and v stay near 1; cold, K ≥ exp(−max C̃ / ε), so the scaling domain is exact in float64 as long as max C̃ / ε
    stays well below ~700, which :func:`check_exponent_range` guards for the structure module. Entries whose marginal
    is zero (padding) get zero mass and keep potential 0. Returns (P × (K+1) × (K+1) plans, new potentials).
    """
    padded = np.zeros(layout.dustbin.shape)
    padded[:, :-1, :-1] = cost
    padded += layout.dustbin * (dustbin_cost / 2.0)
    f, g = potentials[:, 0], potentials[:, 1]
    # padding entries get kernel 1 (not 0), so no row or column sum is 0; their zero marginal makes u or v 0 there
    kernel = np.where(layout.support, np.exp((f[:, :, None] + g[:, None, :] - padded) / epsilon), 1.0)
    kernel_t = np.ascontiguousarray(kernel.transpose(0, 2, 1))
    u, v = layout.mu, layout.unit_scaling  # u is overwritten by the first iteration
    for _ in range(iterations):
        u = layout.mu / (kernel @ v)
        v = layout.nu / (kernel_t @ u)
    plans = u * kernel * v.transpose(0, 2, 1)
    with np.errstate(divide="ignore"):  # log 0 on padding, replaced by 0
        f = np.where(layout.rows, f + epsilon * np.log(u[:, :, 0]), 0.0)
        g = np.where(layout.columns, g + epsilon * np.log(v[:, :, 0]), 0.0)
    return plans, np.stack([f, g], axis=1)


def sinkhorn_backward(plans: np.ndarray, grad_plans: np.ndarray, epsilon: float) -> np.ndarray:
    """∂L/∂C̃ from G = ∂L/∂P for the converged plans of :func:`sinkhorn` (the implicit-function gradient).

    Differentiating the optimality conditions ε log P_ij = f_i + g_j − C̃_ij and P 1 = μ, Pᵀ 1 = ν gives
    ∂L/∂C̃_ij = −P_ij (G_ij − α_i − β_j) / ε, where (α, β) solve the 2n × 2n system
    Σ_j P_ij (α_i + β_j) = Σ_j P_ij G_ij (every row i), Σ_i P_ij (α_i + β_j) = Σ_i P_ij G_ij (every column j),
    determined up to α + c, β − c on every connected part of the plan's support (the system matrix, of quadratic form
    Σ_ij P_ij (α_i + β_j)², is positive semi-definite with that null space, which the right-hand side is orthogonal
    to, and the gradient does not depend on c). It is solved with a ridge of :data:`_SOLVE_RIDGE` on the diagonal:
    always solvable (also when a plan splits into disconnected parts, e.g. without a dustbin, or for padding), and
    off by O(ridge / mass) where the masses are O(1). This is the gradient of the converged plan, at the cost of one
    small batched linear solve instead of backpropagating through the iterations.
    """
    batch, n, _ = plans.shape
    weighted = plans * grad_plans
    system = np.zeros((batch, 2 * n, 2 * n))
    system[:, :n, n:], system[:, n:, :n] = plans, plans.transpose(0, 2, 1)
    diagonal = np.arange(2 * n)
    system[:, diagonal, diagonal] = np.concatenate([plans.sum(axis=2), plans.sum(axis=1)], axis=1) + _SOLVE_RIDGE
    right = np.concatenate([weighted.sum(axis=2), weighted.sum(axis=1)], axis=1)[:, :, None]
    solution = np.linalg.solve(system, right)[:, :, 0]
    alpha, beta = solution[:, :n], solution[:, n:]
    return -plans * (grad_plans - alpha[:, :, None] - beta[:, None, :]) / epsilon


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).removeprefix("torch."))


class StructurePlans(torch.autograd.Function):
    """The structure module's plans as one autograd Function (float64 NumPy inside, see the module docstring).

    Forward: the batch covariance Σ = X̄ᵀ X̄ / B of all modalities' centred encodings X̄ = [u_1 … u_M] − mean, the
    costs of :func:`covariance_costs` (plus ``given_cost``, a P × K × K torch tensor, e.g. the W1 marginal cost, or
    the whole cost when there are no encodings), the plans of :func:`sinkhorn`. Outputs: the k_a × k_b plan block W
    of every problem, the signs sign ρ of every pair's cross block (0 without encodings), the T × T correlation ρ and
    the new potentials; only the plans are differentiable.
    Backward: :func:`sinkhorn_backward`, the costs' backward pass, and ∂L/∂X̄ = X̄ (∂L/∂Σ + ∂L/∂Σᵀ) / B, which already
    has zero column means (the centring's backward pass changes nothing).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        layout: PairLayout,
        settings: tuple[str | None, float, float, float, int],
        potentials: torch.Tensor,
        given_cost: torch.Tensor | None,
        *encodings: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        kind, ridge, dustbin_cost, epsilon, iterations = settings
        reference = encodings[0] if encodings else given_cost
        assert reference is not None, "StructurePlans needs encodings or a cost"
        centred = np.zeros((1, 0))
        if encodings:
            stacked = np.concatenate([u.detach().cpu().numpy() for u in encodings], axis=1, dtype=np.float64)
            centred = stacked - stacked.mean(axis=0)
        cost, rho, cost_backward = covariance_costs(centred.T @ centred / len(centred), kind, layout, ridge)
        if given_cost is not None:
            cost = cost + given_cost.detach().cpu().numpy().astype(np.float64)
        plans, new_potentials = sinkhorn(cost, layout, dustbin_cost, epsilon, iterations, potentials.cpu().numpy())
        ctx.set_materialize_grads(False)
        ctx.plans, ctx.epsilon, ctx.layout = plans, epsilon, layout
        ctx.cost_backward, ctx.centred = cost_backward, centred
        ctx.given = None if given_cost is None else (given_cost.dtype, given_cost.device)
        ctx.dims, ctx.dtype, ctx.device = [u.shape[1] for u in encodings], reference.dtype, reference.device
        signs = np.sign(layout.blocks(rho)) if encodings else np.zeros_like(layout.real)

        def blocks(values: np.ndarray) -> list[torch.Tensor]:
            values = values.astype(_numpy_dtype(reference.dtype))
            return [
                torch.from_numpy(values[p, :k_a, :k_b]).to(reference.device)
                for p, (k_a, k_b) in enumerate(layout.shapes)
            ]

        signs_out = blocks(signs)
        extra = (torch.from_numpy(rho).to(reference), torch.from_numpy(new_potentials).to(potentials.device))
        ctx.mark_non_differentiable(*signs_out, *extra)  # one call: a second would replace the first's outputs
        return (*blocks(plans), *signs_out, *extra)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
        plans, layout = ctx.plans, ctx.layout
        if all(grad is None for grad in grads[: len(layout.shapes)]):
            return (None,) * (4 + len(ctx.dims))
        grad_plans = np.zeros_like(plans)
        for p, (k_a, k_b) in enumerate(layout.shapes):
            if grads[p] is not None:
                grad_plans[p, :k_a, :k_b] = grads[p].detach().cpu().numpy()
        grad_cost = sinkhorn_backward(plans, grad_plans, ctx.epsilon)[:, :-1, :-1]
        grad_given = None
        if ctx.given is not None and ctx.needs_input_grad[3]:
            grad_given = torch.from_numpy(grad_cost).to(dtype=ctx.given[0], device=ctx.given[1])
        grad_encodings: list[torch.Tensor | None] = [None] * len(ctx.dims)
        if any(ctx.needs_input_grad[4:]):
            grad_covariance = ctx.cost_backward(grad_cost)
            grad_stacked = ctx.centred @ ((grad_covariance + grad_covariance.T) / len(ctx.centred))
            parts = np.split(grad_stacked.astype(_numpy_dtype(ctx.dtype)), np.cumsum(ctx.dims)[:-1], axis=1)
            grad_encodings = [torch.from_numpy(np.ascontiguousarray(part)).to(ctx.device) for part in parts]
        return (None, None, None, grad_given, *grad_encodings)


def soft_partial_plans(
    costs: list[torch.Tensor],
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The k_a × k_b real blocks W of the entropic OT plans of several dustbin problems, differentiable in the costs.

    All problems are solved in one batch (:class:`PairLayout`, :func:`sinkhorn`, :class:`StructurePlans`; it gives
    POT's ``ot.sinkhorn`` plans, see the tests). Row i of W sums to the mass coordinate i sends to b, i.e. 1 minus
    what it leaves in the dustbin. Returns the plans and the new (detached) potentials (P × 2 × (K+1)).
    """
    layout = PairLayout([tuple(cost.shape) for cost in costs])
    size = layout.size
    padded = torch.stack(
        [nn.functional.pad(cost, (0, size - cost.shape[1], 0, size - cost.shape[0])) for cost in costs]
    )
    if potentials is None:
        potentials = torch.zeros(len(costs), 2, size + 1, dtype=torch.float64)
    outputs = StructurePlans.apply(layout, (None, 0.0, dustbin_cost, epsilon, iterations), potentials, padded)
    return list(outputs[: len(costs)]), outputs[-1]


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
    "anneal_max_steps": 300,
    "freeze_max_steps": 500,
    "sinkhorn_iterations": 5,
    "partial_ridge": 0.05,
}
_NO_DUSTBIN_COST = 10.0  # > every cost between coordinates: the plan matches min(k_a, k_b) coordinates
COSTS = ("partial", "correlation", "squared", "w1", "correlation+w1")
_COVARIANCE_COST = {  # each cost's part computed from the covariance (StructurePlans); the W1 part is torch's
    "partial": "partial",
    "correlation": "correlation",
    "squared": "squared",
    "w1": None,
    "correlation+w1": "correlation",
}
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


REFERENCE_LR = 0.003  # the learning rate at which the search caps are counted (the default study's)


def search_phases(options: dict[str, Any], steps: int | None, lr: float | None = None) -> tuple[float, float]:
    """The fractions of a T-step training run (T = ``steps``) at which the soft phase ends and the plan freezes:
    min(``anneal_fraction``, n_anneal / T) and min(``freeze_fraction``, n_freeze / T), with the caps
    n = round(``anneal_max_steps`` · r) and round(``freeze_max_steps`` · r) in steps, r = :data:`REFERENCE_LR` / lr.

    The caps make the search the same at every longer budget: at 400 steps they change nothing (300 and 360 steps),
    at 10,000 the plan is searched over 300 steps and frozen at step 500, after which the method fits the learned
    plan like the oracle (docs/method.md, ninth and tenth increments). Adam moves each weight by about lr per step,
    so at a lower learning rate the search takes proportionally more steps to move the encoders as far: at lr 0.001
    (``paper.yaml``) 900 and 1,500; 10,000 steps at batch 128 and lr 0.001 with the unscaled caps left 5 of 6 yao4
    tuning replicates inexact (tenth increment). A cap of None, or an unknown T, keeps the fraction; an unknown lr
    counts the caps as they are."""
    ratio = 1.0 if lr is None else REFERENCE_LR / lr

    def capped(fraction: float, max_steps: int | None) -> float:
        return fraction if max_steps is None or steps is None else min(fraction, round(max_steps * ratio) / steps)

    return capped(options["anneal_fraction"], options["anneal_max_steps"]), capped(
        options["freeze_fraction"], options["freeze_max_steps"]
    )


class StructureModule(nn.Module):
    """Learns which coordinates of which modalities encode the same latent: for every pair of modalities (a, b) a
    partial OT plan W_ab ∈ [0, 1]^{k_a × k_b} between their coordinates, with a "not shared" dustbin on both sides.

    W_ab = Sinkhorn_ε(C_ab with a dustbin of cost c_u) on the batch, with C_ab[i, j] = 1 − |ρ_ij·rest|, the partial
    correlation of u_i and v_j given the pair's other coordinates (``cost: partial``, the default, paired data; see
    :func:`covariance_costs`: it gave more exact patterns on yao4 than the marginal correlation, docs/method.md),
    1 − |corr(u_i, v_j)| (``correlation``), the scale-aware squared difference up to sign (``squared``, see
    :func:`covariance_costs`), min_± W1 of the standardised marginals (``w1``, unpaired data), or
    correlation and W1 summed (``correlation+w1``); signs s_ab = sign corr (marginal).
    ε and c_u are annealed from (ε_0, c_0) to (ε_1, c_1) over the first ``anneal_fraction`` of training, at most
    ``anneal_max_steps`` of the ``steps`` (T) of training, counted at :data:`REFERENCE_LR` and scaled by
    :data:`REFERENCE_LR` / ``lr`` (:func:`search_phases`; geometric / linear; defaults ε 0.3 → 0.02, c_u 1.0 → 0.2:
    at c_u = 1 every correlated pair is cheaper than the dustbin, so training starts from a soft, nearly full matching
    and every coordinate is pulled towards cross-modal information before the plan commits — started at (0.1, 0.5)
    the plan committed within ~25 steps and a coordinate left in the dustbin then only had the uniformity term to
    learn from, so a shared latent could be lost, docs/method.md);
    annealing over the first 3/4 and freezing at 0.9 (was 1/2 and 3/4) gave more exact patterns on yao4 and random
    patterns, docs/method.md; ``anneal`` off: (ε_1, c_1) throughout; ``dustbin`` off: c_u so large that
    min(k_a, k_b) pairs are always matched. All pairs are solved in one batch (:class:`PairLayout`,
    :class:`StructurePlans`) from one covariance matrix of all modalities' coordinates, warm-started from the previous
    step's dual potentials (``sinkhorn_iterations`` per step), differentiable in the encodings when ``plan_gradient``
    (Sinkhorn's mass constraint then makes a loss weighted by W push competing pairs apart). After ``freeze_fraction``
    of training (at most ``freeze_max_steps`` steps, scaled alike) the plans are frozen to the exact (network
    simplex) partial matching of a running mean of the (marginal) correlations, the statistic
    :func:`mmcrl.recover.recover_structure` reads the structure from. Plugs into any model with per-modality
    encodings: :meth:`alignment_loss` is the plan-weighted contrastive term.
    """

    def __init__(
        self,
        latent_dims: list[int],
        options: dict[str, Any] | None = None,
        steps: int | None = None,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        unknown = sorted(set(options or {}) - set(STRUCTURE_DEFAULTS))
        if unknown:
            known = ", ".join(STRUCTURE_DEFAULTS)
            raise ValueError(f"unknown structure option(s) {', '.join(unknown)}; known: {known}")
        self.options = STRUCTURE_DEFAULTS | (options or {})
        if self.options["cost"] not in COSTS:
            raise ValueError(f"structure cost {self.options['cost']!r} is not one of {', '.join(COSTS)}")
        check_exponent_range(self.options)
        self.anneal_end, self.freeze_start = search_phases(self.options, steps, lr)
        self.latent_dims = list(latent_dims)
        self.layout = PairLayout.of_dims(self.latent_dims)
        self.pairs, self.shapes = self.layout.pairs, self.layout.shapes
        size, total = self.layout.size, self.layout.total
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
        t = min(1.0, progress / self.anneal_end)
        epsilon = options["epsilon_start"] * (options["epsilon_end"] / options["epsilon_start"]) ** t
        return epsilon, dustbin_start + t * (dustbin_end - dustbin_start)

    def marginal_costs(self, encodings: list[torch.Tensor]) -> torch.Tensor:
        """P × K × K zero-padded :func:`sorted_marginal_distance` of every pair (a loop over pairs: sorting)."""
        size = self.layout.size
        return torch.stack(
            [
                nn.functional.pad(sorted_marginal_distance(encodings[a], encodings[b]), (0, size - k_b, 0, size - k_a))
                for (a, b), (k_a, k_b) in zip(self.pairs, self.shapes, strict=True)
            ]
        )

    def forward(self, encodings: list[torch.Tensor], progress: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W_ab, s_ab) for every pair (a, b) in ``self.pairs``; ``progress`` ∈ [0, 1) is the fraction of training
        done (in training mode, the running correlations and potentials are updated and the plans frozen on time)."""
        if self.training and not self.frozen and progress >= self.freeze_start:
            self.freeze_plans()
        if self.frozen:
            signs = np.sign(self.layout.blocks(self.running_correlation.double().cpu().numpy()))
            signs = torch.from_numpy(signs).to(self.frozen_plans)
            return [
                (plan[:k_a, :k_b], sign[:k_a, :k_b])
                for plan, sign, (k_a, k_b) in zip(self.frozen_plans, signs, self.shapes, strict=True)
            ]
        kind = self.options["cost"]
        given_cost = self.marginal_costs(encodings) if "w1" in kind else None
        if not self.options["plan_gradient"]:
            encodings = [u.detach() for u in encodings]
            given_cost = None if given_cost is None else given_cost.detach()
        epsilon, dustbin_cost = self.schedule(progress)
        settings = (
            _COVARIANCE_COST[kind],
            self.options["partial_ridge"],
            dustbin_cost,
            epsilon,
            self.options["sinkhorn_iterations"],
        )
        *blocks, correlation, potentials = StructurePlans.apply(
            self.layout, settings, self.potentials, given_cost, *encodings
        )
        if self.training:
            self.running_correlation.lerp_(correlation, 0.1)
            self.potentials.copy_(potentials)
        count = len(self.pairs)
        return list(zip(blocks[:count], blocks[count:], strict=True))

    def alignment_loss(self, encodings: list[torch.Tensor], progress: float, tau: float) -> torch.Tensor:
        """Σ_{a<b} InfoNCE_{W_ab, s_ab}(u_a, u_b): the contrastive term weighted by the plans."""
        from mmcrl.methods.losses import pairwise_alignment  # here, not at the top: mmcrl.methods imports this module

        return pairwise_alignment(encodings, self.pairs, self(encodings, progress), tau)

    @torch.no_grad()
    def freeze_plans(self) -> None:
        """Fix every W_ab to the exact partial matching of the running correlations (dustbin cost c_1)."""
        _, dustbin_cost = self.schedule(1.0)
        costs = 1.0 - np.abs(self.layout.blocks(self.running_correlation.double().cpu().numpy()))
        self.frozen_plans.zero_()
        for p, (k_a, k_b) in enumerate(self.shapes):
            for i, j in exact_partial_matching(costs[p, :k_a, :k_b], dustbin_cost):
                self.frozen_plans[p, i, j] = 1.0
        self.frozen.fill_(True)
