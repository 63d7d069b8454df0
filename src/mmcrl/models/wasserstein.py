"""Entropic optimal transport between the latent coordinates of two modalities, with a "not shared" option.

The dustbin problem of :mod:`mmcrl.matching` (a k_a × k_b cost between coordinates plus one dustbin row and column of
cost c_u / 2 per coordinate, marginals (1, …, 1, k_b) and (1, …, 1, k_a)) has a 0/1 partial matching as exact
solution; its entropic plan, computed here for all pairs of modalities at once, is the differentiable relaxation the
structure module learns with.

Everything after the batch covariance of the encodings acts on matrices of a few coordinates, where a training step
would spend its time in per-operation overhead (~100 torch operations forward and as many backward took 15–30 % of
a step at batch 128; the same in ~150 NumPy calls, 11–22 %). So the module's plans are one autograd Function,
:class:`StructurePlans`, computed in float64 with a hand-derived backward pass: covariance → correlation → costs →
entropic plans forward, and the chain rule through each of them backward (:func:`covariance_costs`,
:func:`sinkhorn`, :func:`sinkhorn_backward`; checked against finite differences in the tests), every stage
compiled (:mod:`mmcrl.models.plan_kernels`). Only the W1 marginal cost (sorting) stays in torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from mmcrl.matching import exact_partial_matching
from mmcrl.models import plan_kernels
from mmcrl.models.correspondence import Correspondence

_SOLVE_RIDGE = 1e-9  # added to the diagonal of the backward pass's linear system (sinkhorn_backward)
_SCALE_FLOOR = 1e-6  # added to standard deviations: ρ_ij = Σ_ij / ((σ_i + δ)(σ_j + δ))


class PairLayout:
    """Several dustbin problems of shapes k_a × k_b laid out in one batch of n × n problems, n = K + 1, K = the
    largest k, and everything about that layout that does not change from one training step to the next.

    Row i < k_a / column j < k_b is coordinate i / j, rows and columns k_a..K−1 / k_b..K−1 are zero-mass padding and
    the last row / column is the dustbin. ``row_mass``, ``column_mass``: P × n marginals μ, ν (1 per coordinate,
    k_b / k_a for the dustbins, 0 for padding); ``support``: P × n × n, True where both marginals are positive;
    ``dustbin``: P × n × n, 1 on the entries that cost c_u / 2 (one side in the dustbin); ``shape_array``: the P × 2
    shapes. Given the modalities' k_m (``latent_dims``: one problem per pair of modalities a < b, ``pairs``), it also
    maps the pairs into the T × T covariance of all T = Σ k_m coordinates: ``offsets`` (P × 2, the first coordinate
    of a and of b), ``slots`` (P × 2K, the coordinates of each pair, a then b, each side padded to K with the
    index T of an independent unit) and ``starts`` (the M + 1 cumulative k_m); without them ``offsets`` and
    ``slots`` are zeros and ``starts`` is [0] (costs given directly, no covariance).
    """

    def __init__(self, shapes: list[tuple[int, int]]) -> None:
        self.shapes = list(shapes)
        self.size = size = max(max(shape) for shape in self.shapes)
        count, n = len(self.shapes), size + 1
        self.row_mass, self.column_mass = np.zeros((count, n)), np.zeros((count, n))
        self.dustbin = np.zeros((count, n, n))
        for p, (k_a, k_b) in enumerate(self.shapes):
            self.row_mass[p, :k_a], self.row_mass[p, size] = 1.0, k_b
            self.column_mass[p, :k_b], self.column_mass[p, size] = 1.0, k_a
            self.dustbin[p, :k_a, size] = self.dustbin[p, size, :k_b] = 1.0
        self.support = (self.row_mass > 0)[:, :, None] & (self.column_mass > 0)[:, None, :]
        self.shape_array = np.array(self.shapes, dtype=np.int64).reshape(count, 2)
        self.total = 0
        self.offsets, self.slots = np.zeros((count, 2), dtype=np.int64), np.zeros((count, 2 * size), dtype=np.int64)
        self.starts = np.zeros(1, dtype=np.int64)

    @classmethod
    def of_dims(cls, latent_dims: list[int]) -> PairLayout:
        """One problem per pair of modalities a < b (``pairs``), with the maps into the covariance of all
        coordinates."""
        pairs = list(itertools.combinations(range(len(latent_dims)), 2))
        layout = cls([(latent_dims[a], latent_dims[b]) for a, b in pairs])
        size, starts = layout.size, np.cumsum([0, *latent_dims])
        layout.pairs, layout.total, layout.starts = pairs, int(starts[-1]), starts.astype(np.int64)
        layout.slots[:] = layout.total
        for p, (a, b) in enumerate(pairs):
            layout.offsets[p] = starts[a], starts[b]
            layout.slots[p, : latent_dims[a]] = np.arange(starts[a], starts[a + 1])
            layout.slots[p, size : size + latent_dims[b]] = np.arange(starts[b], starts[b + 1])
        return layout

    def blocks(self, matrix: np.ndarray) -> np.ndarray:
        """The P × K × K cross blocks [k_a × k_b, zero-padded] of a T × T matrix over all coordinates."""
        return plan_kernels.cross_blocks(
            np.ascontiguousarray(matrix, dtype=np.float64), self.shape_array, self.offsets, self.size
        )


def covariance_costs(
    covariance: np.ndarray, kind: str | None, layout: PairLayout, ridge: float
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(P × K × K zero-padded costs of every pair, the T × T correlation ρ, the backward pass ∂L/∂C ↦ ∂L/∂Σ) from the
    covariance Σ of all coordinates (:func:`mmcrl.models.plan_kernels.covariance_costs`), with the correlation
    ρ_ij = Σ_ij / (s_i s_j), s_i = √Σ_ii + δ (of standardised columns; δ = :data:`_SCALE_FLOOR`), for the
    paired-data costs:

    - ``correlation``: C_ij = 1 − |ρ_ij|;
    - ``squared``: min_± E(u_i ∓ v_j)² / (σ_i² + σ_j²) = 1 − 2 |Σ_ij| / (σ_i² + σ_j²) on centred coordinates: the
      squared difference up to sign, which equals 1 − |ρ_ij| when σ_i = σ_j and also charges for a difference in
      scale;
    - ``partial``: C_ij = 1 − |ρ_ij·rest|, the partial correlation of u_i and v_j given the pair's other coordinates:
      with R the (k_a + k_b)-square correlation matrix of the pair's coordinates and Ω = (R + λ I)⁻¹ (λ = ``ridge``),
      ρ_ij·rest = −Ω_ij / √(Ω_ii Ω_jj); each pair laid out in 2K slots padded with an independent unit
      (``layout.slots``). Backward: with H = ∂L/∂Π on the cross block of Π = −Ω / (d dᵀ), d = √diag Ω:
      ∂L/∂Ω = −H / (d dᵀ), plus ∂L/∂d_k / (2 d_k) on the diagonal with ∂L/∂d_k = −(Σ_j H_kj Π_kj + Σ_i H_ik Π_ik) / d_k;
      then ∂L/∂R = −Ω (∂L/∂Ω) Ω, added back into ρ's entries;
    - None: no covariance cost (zeros; the ``w1`` cost is all torch).

    Through ρ: ∂L/∂Σ_ij = G_ij / (s_i s_j), plus on the diagonal ∂L/∂s_k / (2 √Σ_kk) with
    ∂L/∂s_k = −(Σ_j G_kj ρ_kj + Σ_i G_ik ρ_ik) / s_k. The derivative of |x| is taken as sign(x) (0 at 0, as torch's).
    """
    if kind not in plan_kernels.COST_CODES:
        raise ValueError(f"no covariance cost {kind!r}")
    code, covariance = plan_kernels.COST_CODES[kind], np.ascontiguousarray(covariance, dtype=np.float64)
    shapes, offsets, slots = layout.shape_array, layout.offsets, layout.slots
    costs, state = plan_kernels.covariance_costs(
        covariance, code, shapes, offsets, slots, layout.size, ridge, _SCALE_FLOOR
    )

    def backward(grad: np.ndarray) -> np.ndarray:
        return plan_kernels.covariance_costs_backward(
            np.ascontiguousarray(grad, dtype=np.float64), code, covariance, state, shapes, offsets, slots
        )

    return costs, state[0], backward


def sinkhorn(
    cost: np.ndarray, layout: PairLayout, dustbin_cost: float, epsilon: float, iterations: int, potentials: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entropic OT plans P = argmin_{P ∈ U(μ, ν)} ⟨P, C̃⟩ − ε H(P) of the dustbin problems (float64), warm-started.

    C̃ is the P × K × K ``cost`` padded with the dustbin row and column (c_u / 2 where ``layout.dustbin`` is 1). The
    optimum is P_ij = exp((f_i + g_j − C̃_ij)/ε) for dual potentials f, g. Starting from ``potentials`` (P × 2 × (K+1):
    f, g of a previous call, e.g. the previous training step; zeros for a cold start) the kernel
    K_ij = exp((f_i + g_j − C̃_ij)/ε) is rescaled by ``iterations`` Sinkhorn updates u = μ / (K v), v = ν / (Kᵀ u)
    (from v = 1) and P = diag(u) K diag(v); the scalings are then absorbed, f += ε log u, g += ε log v (the new
    potentials). Warm, u and v stay near 1; cold, K ≥ exp(−max C̃ / ε), so the scaling domain is exact in float64 as
    long as max C̃ / ε stays well below ~700, which :func:`check_exponent_range` guards for the structure module.
    Entries whose marginal is zero (padding) get kernel 1, so no row or column sum is 0, zero mass, and keep
    potential 0. Returns (P × (K+1) × (K+1) plans, new potentials) (:func:`mmcrl.models.plan_kernels.sinkhorn`).
    """
    return plan_kernels.sinkhorn(
        np.ascontiguousarray(cost, dtype=np.float64),
        layout.row_mass,
        layout.column_mass,
        layout.support,
        layout.dustbin,
        dustbin_cost,
        epsilon,
        iterations,
        np.ascontiguousarray(potentials, dtype=np.float64),
    )


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
    small linear solve per problem instead of backpropagating through the iterations
    (:func:`mmcrl.models.plan_kernels.sinkhorn_backward`).
    """
    return plan_kernels.sinkhorn_backward(plans, np.ascontiguousarray(grad_plans), epsilon, _SOLVE_RIDGE)


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).removeprefix("torch."))


_NO_COST = np.zeros((0, 0, 0))  # "no given cost" for plan_kernels.structure_forward
_NO_CORRELATION = np.zeros((0, 0))  # "no running correlation": its momentum is 0


class StructurePlans(torch.autograd.Function):
    """The structure module's plans as one autograd Function (float64, compiled, see the module docstring).

    Forward (:func:`mmcrl.models.plan_kernels.structure_forward`): the batch covariance Σ = X̄ᵀ X̄ / B of all
    modalities' centred encodings X̄ = [u_1 … u_M] − mean, the costs of :func:`covariance_costs` (plus
    ``given_cost``, a P × K × K torch tensor, e.g. the W1 marginal cost, or the whole cost when there are no
    encodings), the plans of :func:`sinkhorn`. ``search_state`` is the host-side state of the search, NumPy arrays:
    (potentials to warm-start from, a running mean of ρ, its momentum); the running mean moves towards this batch's
    T × T correlation ρ in place (momentum 0: unchanged). Outputs, each of every problem in turn: the k_a × k_b plan
    blocks W, the signed plans W ∘ s (s = sign ρ of the pair's cross block, 0 without encodings), the row sums W 1
    and the column sums Wᵀ 1 (the fields of :class:`~mmcrl.models.correspondence.Correspondence`, all
    differentiable), then the new potentials (a NumPy array).
    Backward (:func:`mmcrl.models.plan_kernels.structure_backward`): ∂L/∂W from the four outputs' gradients,
    :func:`sinkhorn_backward`, the costs' backward pass, and ∂L/∂X̄ = X̄ (∂L/∂Σ + ∂L/∂Σᵀ) / B, which already has zero
    column means (the centring's backward pass changes nothing).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        layout: PairLayout,
        settings: tuple[str | None, float, float, float, int],
        search_state: tuple[np.ndarray, np.ndarray, float],
        given_cost: torch.Tensor | None,
        *encodings: torch.Tensor,
    ) -> tuple[Any, ...]:
        kind, ridge, dustbin_cost, epsilon, iterations = settings
        potentials, running_correlation, momentum = search_state
        reference = encodings[0] if encodings else given_cost
        assert reference is not None, "StructurePlans needs encodings or a cost"
        dtype, device = reference.dtype, reference.device
        if encodings:
            stacked = torch.cat(encodings, dim=1).cpu().numpy()  # no grad is recorded inside forward
        else:
            stacked = np.zeros((1, 0), dtype=_numpy_dtype(dtype))
        given = _NO_COST if given_cost is None else given_cost.numpy(force=True).astype(np.float64)
        code = plan_kernels.COST_CODES[kind]
        centred, covariance, state, plans, new_potentials, blocks, masses = plan_kernels.structure_forward(
            stacked,
            given,
            code,
            layout.shape_array,
            layout.offsets,
            layout.slots,
            ridge,
            _SCALE_FLOOR,
            layout.row_mass,
            layout.column_mass,
            layout.support,
            layout.dustbin,
            dustbin_cost,
            epsilon,
            iterations,
            potentials,
            running_correlation,
            momentum,
        )
        ctx.set_materialize_grads(False)
        given_as = None if given_cost is None else (given_cost.dtype, given_cost.device)
        ctx.saved = (plans, code, epsilon, layout, centred, covariance, state, given_as, stacked, device)
        parts = [blocks[field][p, :k_a, :k_b] for field in range(2) for p, (k_a, k_b) in enumerate(layout.shapes)]
        parts += [masses[side][p, : shape[side]] for side in range(2) for p, shape in enumerate(layout.shapes)]
        outputs = [torch.from_numpy(part) for part in parts]
        if device.type != "cpu":
            outputs = [output.to(device) for output in outputs]
        return (*outputs, new_potentials)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
        plans, code, epsilon, layout, centred, covariance, state, given_as, stacked, device = ctx.saved
        count, size = len(layout.shapes), layout.size
        grad_blocks, grad_masses = np.zeros((2, count, size, size)), np.zeros((2, count, size))
        for output, grad in enumerate(grads[: 4 * count]):
            if grad is None:
                continue
            field, p = divmod(output, count)  # W, W ∘ s, W 1, Wᵀ 1
            k_a, k_b = layout.shapes[p]
            if field < 2:
                grad_blocks[field, p, :k_a, :k_b] = grad.numpy(force=True)
            else:
                grad_masses[field - 2, p, : (k_a, k_b)[field - 2]] = grad.numpy(force=True)
        needs_encodings = any(ctx.needs_input_grad[4:])
        grad_flat = np.empty(stacked.size if needs_encodings else 0, dtype=stacked.dtype)
        grad_cost = plan_kernels.structure_backward(
            grad_blocks,
            grad_masses,
            plans,
            epsilon,
            _SOLVE_RIDGE,
            code,
            centred,
            covariance,
            state,
            layout.shape_array,
            layout.offsets,
            layout.slots,
            layout.starts,
            grad_flat,
        )
        grad_given = None
        if given_as is not None and ctx.needs_input_grad[3]:
            grad_given = torch.from_numpy(grad_cost).to(dtype=given_as[0], device=given_as[1])
        grad_encodings: list[torch.Tensor | None] = [None] * (len(layout.starts) - 1)
        if needs_encodings:
            batch = stacked.shape[0]
            grad_encodings = [
                torch.from_numpy(grad_flat[batch * start : batch * end].reshape(batch, end - start))
                for start, end in itertools.pairwise(layout.starts)
            ]
            if device.type != "cpu":
                grad_encodings = [grad.to(device) for grad in grad_encodings]
        return (None, None, None, grad_given, *grad_encodings)


def soft_partial_plans(
    costs: list[torch.Tensor],
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: np.ndarray | None = None,
) -> tuple[list[torch.Tensor], np.ndarray]:
    """The k_a × k_b real blocks W of the entropic OT plans of several dustbin problems, differentiable in the costs.

    All problems are solved in one batch (:class:`PairLayout`, :func:`sinkhorn`, :class:`StructurePlans`; it gives
    POT's ``ot.sinkhorn`` plans, see the tests). Row i of W sums to the mass coordinate i sends to b, i.e. 1 minus
    what it leaves in the dustbin. Returns the plans and the new potentials (a P × 2 × (K+1) NumPy array).
    """
    layout = PairLayout([tuple(cost.shape) for cost in costs])
    size = layout.size
    padded = torch.stack(
        [nn.functional.pad(cost, (0, size - cost.shape[1], 0, size - cost.shape[0])) for cost in costs]
    )
    if potentials is None:
        potentials = np.zeros((len(costs), 2, size + 1))
    settings, search_state = (None, 0.0, dustbin_cost, epsilon, iterations), (potentials, _NO_CORRELATION, 0.0)
    outputs = StructurePlans.apply(layout, settings, search_state, padded)
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
    "freeze_min_correlation": 0.9,
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
_CORRELATION_MOMENTUM = 0.1  # the running mean of ρ that the plans are frozen to: ρ̄ ← ρ̄ + 0.1 (ρ − ρ̄) per step
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
    of training (at most ``freeze_max_steps`` steps, scaled alike) the plans are frozen to the exact partial
    matching (:func:`mmcrl.matching.exact_partial_matching`) of a running mean ρ̄ of the (marginal) correlations,
    the statistic :func:`mmcrl.recover.recover_structure` reads the structure from, with dustbin cost 1 − ρ_min: a
    pair is frozen matched only if |ρ̄| > ρ_min = ``freeze_min_correlation`` (0.9, the recovery's threshold), so
    that a spurious pair of private coordinates (|ρ̄| 0.8–0.9 at the freeze) is not aligned for the rest of training
    (better private latents on chain3 and pair2, as many exact patterns in sum over yao4, chain3, pair2 and random
    patterns: 40 + 40 paired tuning replicates each, docs/method.md, eighteenth session); None freezes with the
    final dustbin cost c_1 instead (|ρ̄| > 1 − c_1 = 0.8, the default before).
    Plugs into any model with per-modality encodings: :meth:`alignment_loss` is the plan-weighted contrastive term.
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
        # the search's state lives on the host, where the plans are computed (float64; saved by get_extra_state)
        self.running_correlation = np.zeros((total, total))
        self.potentials = np.zeros((len(self.pairs), 2, size + 1))
        self.frozen = False
        self.register_buffer("frozen_plans", torch.zeros(len(self.pairs), size, size))
        self.register_buffer("frozen_signs", torch.zeros(len(self.pairs), size, size))

    def get_extra_state(self) -> dict[str, Any]:
        """The host-side search state for ``state_dict``: the running correlations, the Sinkhorn potentials (copies:
        training goes on changing them) and whether the plans are frozen."""
        return {
            "running_correlation": self.running_correlation.copy(),
            "potentials": self.potentials.copy(),
            "frozen": self.frozen,
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.running_correlation = np.array(state["running_correlation"], dtype=np.float64)
        self.potentials = np.array(state["potentials"], dtype=np.float64)
        self.frozen = bool(state["frozen"])

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

    def forward(self, encodings: list[torch.Tensor], progress: float) -> list[Correspondence]:
        """The correspondence (W_ab, s_ab) of every pair (a, b) in ``self.pairs``; ``progress`` ∈ [0, 1) is the
        fraction of training done (in training mode, the running correlations and potentials are updated and the
        plans frozen on time)."""
        self.freeze_if_due(progress)
        if self.frozen:
            return [
                Correspondence.of(plan[:k_a, :k_b], sign[:k_a, :k_b])
                for plan, sign, (k_a, k_b) in zip(self.frozen_plans, self.frozen_signs, self.shapes, strict=True)
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
        search_state = (self.potentials, self.running_correlation, _CORRELATION_MOMENTUM if self.training else 0.0)
        *outputs, potentials = StructurePlans.apply(self.layout, settings, search_state, given_cost, *encodings)
        if self.training:
            self.potentials = potentials
        count = len(self.pairs)
        return [Correspondence(*outputs[p::count]) for p in range(count)]

    def alignment_loss(self, encodings: list[torch.Tensor], progress: float, tau: float) -> torch.Tensor:
        """Σ_{a<b} InfoNCE_{W_ab, s_ab}(u_a, u_b): the contrastive term weighted by the plans."""
        from mmcrl.methods.losses import pairwise_alignment  # here, not at the top: mmcrl.methods imports this module

        return pairwise_alignment(encodings, self.pairs, self(encodings, progress), tau)

    def freeze_if_due(self, progress: float) -> bool:
        """In training, freeze the plans (:meth:`freeze_plans`) once ``progress`` reaches the freeze; True when they
        were frozen by this call."""
        if self.training and not self.frozen and progress >= self.freeze_start:
            self.freeze_plans()
            return True
        return False

    @torch.no_grad()
    def freeze_plans(self) -> None:
        """Fix every W_ab to the exact partial matching of the running correlations with dustbin cost
        1 − ``freeze_min_correlation`` (c_1 when that is None; no dustbin with ``dustbin`` off), and its signs to
        theirs."""
        if self.options["dustbin"] and self.options["freeze_min_correlation"] is not None:
            dustbin_cost = 1.0 - self.options["freeze_min_correlation"]
        else:
            _, dustbin_cost = self.schedule(1.0)
        correlation = self.layout.blocks(self.running_correlation)
        costs = 1.0 - np.abs(correlation)
        self.frozen_plans.zero_()
        for p, (k_a, k_b) in enumerate(self.shapes):
            for i, j in exact_partial_matching(costs[p, :k_a, :k_b], dustbin_cost):
                self.frozen_plans[p, i, j] = 1.0
        self.frozen_signs.copy_(torch.from_numpy(np.sign(correlation)))
        self.frozen = True
