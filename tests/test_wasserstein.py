"""The Wasserstein structure module: marginals, matching behaviour, gradients, permutation invariance."""

import numpy as np
import ot
import pytest
import torch

from mmcrl.matching import dustbin_problem
from mmcrl.methods import MethodContext, build_method
from mmcrl.models import plan_kernels
from mmcrl.models.correspondence import Correspondence
from mmcrl.models.wasserstein import (
    PairLayout,
    StructureModule,
    StructurePlans,
    covariance_costs,
    search_phases,
    soft_partial_plans,
    sorted_marginal_distance,
    standardised,
)


def correlation_cost(u, v):
    return 1.0 - (standardised(u).T @ standardised(v) / u.shape[0]).abs()


def planted(n=2000, seed=0):
    """u = (z0, z1, e0), v = (−3 z1, e1, 2 z0): coordinates 0↔2 and 1↔0 are shared, u2 and v1 are not."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=generator)
    noise = torch.randn(n, 2, generator=generator)
    return torch.stack([z[:, 0], z[:, 1], noise[:, 0]], 1), torch.stack([-3 * z[:, 1], noise[:, 1], 2 * z[:, 0]], 1)


def pair_costs(encodings, kind, ridge=0.05):
    """The P × K × K costs and the correlation of :func:`covariance_costs` on a batch of encodings."""
    stacked = torch.cat(encodings, dim=1).double().numpy()
    centred = stacked - stacked.mean(axis=0)
    layout = PairLayout.of_dims([u.shape[1] for u in encodings])
    costs, correlation, _ = covariance_costs(centred.T @ centred / len(centred), kind, layout, ridge)
    return costs, correlation


def plan(cost, dustbin=0.2, epsilon=0.05, iterations=2000):
    plans, _ = soft_partial_plans([cost], dustbin, epsilon, iterations)
    return plans[0]


def test_the_kernels_linear_algebra_equals_numpys():
    """plan_kernels.solve (Gaussian elimination with partial pivoting) and matmul against NumPy, including a system
    that needs a row exchange (a zero first pivot) and the near-singular Sinkhorn system with its ridge."""
    rng = np.random.default_rng(0)
    matrix, right = rng.normal(size=(6, 6)), rng.normal(size=(6, 2))
    assert np.allclose(plan_kernels.solve(matrix, right), np.linalg.solve(matrix, right), atol=1e-12)
    exchange = np.array([[0.0, 2.0], [3.0, 1.0]])
    assert np.allclose(plan_kernels.solve(exchange, np.eye(2)), np.linalg.inv(exchange), atol=1e-15)
    plan = rng.uniform(size=(3, 3))
    system = np.block([[np.diag(plan.sum(1)), plan], [plan.T, np.diag(plan.sum(0))]]) + 1e-9 * np.eye(6)
    rhs = np.concatenate([plan.sum(1), plan.sum(0)])[:, None]  # in the range: the solution α = 1/2, β = 1/2 up to c
    solution = plan_kernels.solve(system, rhs)[:, 0]
    assert np.allclose(solution[:3, None] + solution[None, 3:], 1.0, atol=1e-6)
    assert np.allclose(plan_kernels.matmul(matrix, right), matrix @ right, atol=1e-12)


def test_plan_respects_the_marginals_of_the_dustbin_problem():
    u, v = planted()
    cost = correlation_cost(u, v)
    augmented, source, target = dustbin_problem(cost.double().numpy(), 0.2)
    assert augmented.shape == (4, 4) and float(source.sum()) == float(target.sum()) == 6.0
    block = plan(cost)
    assert (block.sum(dim=1) <= 1 + 1e-6).all() and (block.sum(dim=0) <= 1 + 1e-6).all()
    with_dustbin = torch.cat([block, 1 - block.sum(1, keepdim=True)], 1)
    torch.testing.assert_close(with_dustbin.sum(1), torch.ones(3), atol=1e-6, rtol=0)


def test_batched_plans_equal_pots_sinkhorn_per_pair_with_padding():
    costs = [torch.rand(3, 4, generator=torch.Generator().manual_seed(s)) for s in range(2)] + [torch.rand(2, 2)]
    plans, potentials = soft_partial_plans(costs, 0.4, 0.05, 3000)
    assert potentials.shape == (3, 2, 5)
    for cost, block in zip(costs, plans, strict=True):
        augmented, source, target = dustbin_problem(cost.double().numpy(), 0.4)
        reference = ot.sinkhorn(source, target, augmented, 0.05, method="sinkhorn_log", stopThr=1e-12)
        np.testing.assert_allclose(block.numpy(), reference[: cost.shape[0], : cost.shape[1]], atol=1e-5)


def test_identical_coordinates_are_matched_and_independent_ones_go_to_the_dustbin():
    u, v = planted()
    block = plan(correlation_cost(u, v), epsilon=0.02)
    assert block[0, 2] > 0.95 and block[1, 0] > 0.95
    assert block[2].sum() < 0.05 and block[:, 1].sum() < 0.05


def test_gradients_flow_through_the_plan():
    u, v = planted(500)
    u.requires_grad_(True)
    plan(correlation_cost(u, v), epsilon=0.1, iterations=50)[0, 2].backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0


def test_plan_gradient_equals_finite_differences_of_the_converged_plan():
    """The implicit-function gradient (sinkhorn_backward) against central differences of plans run to convergence,
    in a padded batch (a 3 × 4 and a 2 × 2 problem) with both sides' dustbins."""
    generator = torch.Generator().manual_seed(7)
    costs = [
        torch.rand(3, 4, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.rand(2, 2, dtype=torch.float64, generator=generator, requires_grad=True),
    ]
    weights = [torch.randn(3, 4, dtype=torch.float64, generator=generator), torch.randn(2, 2, dtype=torch.float64)]

    def loss(*tensors):
        plans, _ = soft_partial_plans(list(tensors), 0.4, 0.1, 3000)
        return sum((plan * weight).sum() for plan, weight in zip(plans, weights, strict=True))

    assert torch.autograd.gradcheck(loss, tuple(costs), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradient_is_finite_when_the_plan_splits_into_disconnected_parts():
    """Without a dustbin (cost 10) and k_a = k_b, a sharp plan is a permutation plus the dustbin-to-dustbin entry: with
    exp(−9 / ε) = 0 exactly, every matched pair is a part of its own, and the backward system needs the ridge."""
    cost = torch.tensor([[0.0, 9.0], [9.0, 0.0]], dtype=torch.float64, requires_grad=True)
    (block,), _ = soft_partial_plans([cost], 10.0, 0.005, 50)
    assert torch.equal(block, torch.eye(2, dtype=torch.float64))
    (block * torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)).sum().backward()
    assert torch.isfinite(cost.grad).all()


def test_a_schedule_whose_kernel_would_underflow_is_refused():
    with pytest.raises(ValueError, match="too small"):
        StructureModule([3, 2], {"epsilon_end": 1e-4})


def test_plan_is_equivariant_to_permuting_coordinates():
    u, v = planted()
    order_u, order_v = torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0])
    permuted = plan(correlation_cost(u[:, order_u], v[:, order_v]))
    torch.testing.assert_close(permuted, plan(correlation_cost(u, v))[order_u][:, order_v], atol=1e-6, rtol=0)


def test_a_warm_start_reaches_the_converged_plan_in_a_few_iterations():
    u, v = planted()
    cost = correlation_cost(u, v)
    _, potentials = soft_partial_plans([cost], 0.2, 0.05, 2000)
    nearby = cost + 0.01 * torch.rand(cost.shape, generator=torch.Generator().manual_seed(1))
    reference = plan(nearby)
    warm, _ = soft_partial_plans([nearby], 0.2, 0.05, 10, potentials)
    cold, _ = soft_partial_plans([nearby], 0.2, 0.05, 10)
    assert (warm[0] - reference).abs().max() < 1e-3
    assert (warm[0] - reference).abs().max() < (cold[0] - reference).abs().max()


def test_marginal_distance_is_zero_for_equal_distributions_up_to_sign_and_scale():
    u, v = planted()
    distance = sorted_marginal_distance(u, v)
    assert distance[1, 0] < 1e-6  # v0 = −3 z1: the same marginal up to sign and scale
    assert distance[0, 0] < 0.1  # independent but both Gaussian: W1 cannot tell (this is why it is for unpaired data)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"dustbin": False},
        {"plan_gradient": False},
        {"cost": "correlation"},
        {"cost": "correlation+w1"},
        {"cost": "squared"},
    ],
)
def test_wcrl_loss_is_finite_and_freezes_to_a_binary_plan(params):
    context = MethodContext([4, 6, 4], [2, 3, 2], 8, 1, 0.3, np.array([[1, 1, 0, 0], [1, 0, 1, 1], [0, 1, 0, 1]]))
    model = build_method("wcrl", context, params)
    batch = [torch.randn(64, 4), torch.randn(64, 6), torch.randn(64, 4)]
    assert torch.isfinite(model.loss(model(batch), 0.1))
    model.loss(model(batch), 0.85)
    assert not model.structure.frozen
    model.loss(model(batch), 0.95)  # past freeze_fraction = 0.9
    assert model.structure.frozen
    assert set(model.structure.frozen_plans[0].unique().tolist()) <= {0.0, 1.0}
    assert model.context.sharing_pattern is None


def test_structure_module_plugs_into_any_encodings_and_passes_gradients():
    structure = StructureModule([3, 2], {"sinkhorn_iterations": 20})
    u = torch.randn(128, 3, requires_grad=True)
    v = torch.cat([u[:, :1].detach() * 2.0, torch.randn(128, 1)], dim=1).requires_grad_(True)
    loss = structure.alignment_loss([u, v], 0.1, 0.3)
    loss.backward()
    assert torch.isfinite(loss) and u.grad.abs().sum() > 0 and v.grad.abs().sum() > 0
    (correspondence,) = structure([u, v], 0.5)  # at the end of the annealing (the start is a soft, near-full match)
    plan = correspondence.weights
    assert plan[0, 0] > 0.9 and plan[1:, 1].max() < 0.1  # the copied coordinate is matched, the rest is not
    assert all(field.requires_grad for field in correspondence)
    # the signed plan and the masses are those of W and s = sign corr (the copy: +1), as Correspondence.of makes them
    signs = torch.sign(torch.tensor(np.corrcoef(u.detach().T, v.detach().T)[:3, 3:], dtype=torch.float32))
    for field, expected in zip(correspondence, Correspondence.of(plan, signs), strict=True):
        torch.testing.assert_close(field, expected)
    with pytest.raises(ValueError, match="unknown structure option"):
        StructureModule([3, 2], {"epsilon": 0.1})


def test_squared_difference_cost_equals_one_minus_abs_correlation_at_equal_scales():
    u = torch.randn(500, 2, dtype=torch.float64)
    v = torch.stack([-u[:, 0] + 0.3 * torch.randn(500, dtype=torch.float64), torch.randn(500, dtype=torch.float64)], 1)

    def costs(w):
        return pair_costs([w[:, :2], w[:, 2:]], "squared")[0][0], pair_costs([w[:, :2], w[:, 2:]], "correlation")[0][0]

    squared, correlation = costs(torch.cat([standardised(u), standardised(v)], 1))
    assert np.allclose(squared, correlation, atol=1e-5)
    assert np.allclose(correlation, correlation_cost(u, v).numpy(), atol=1e-5)
    # scaling one side by 3 leaves 1 − |ρ| unchanged but raises the squared-difference cost: 1 − 2·3|ρ|/(1 + 9)
    scaled, _ = costs(torch.cat([standardised(u), 3 * standardised(v)], 1))
    assert np.allclose(scaled, 1 - 0.6 * (1 - correlation), atol=1e-5)


def test_structure_module_plans_equal_the_per_pair_reference():
    generator = torch.Generator().manual_seed(3)
    encodings = [torch.randn(300, k, generator=generator) for k in (3, 2, 4)]
    encodings[1] = encodings[1] + encodings[0][:, :2]  # some correlation between modalities 0 and 1
    structure = StructureModule([3, 2, 4], {"sinkhorn_iterations": 200, "cost": "correlation"}).eval()
    epsilon, dustbin_cost = structure.schedule(0.0)
    pairs = structure(encodings, 0.0)
    costs = [correlation_cost(encodings[a], encodings[b]) for a, b in structure.pairs]
    reference, _ = soft_partial_plans(costs, dustbin_cost, epsilon, 200)
    for correspondence, expected, (a, b) in zip(pairs, reference, structure.pairs, strict=True):
        torch.testing.assert_close(correspondence.weights, expected, atol=1e-5, rtol=0)
        assert correspondence.signed.shape == (structure.latent_dims[a], structure.latent_dims[b])


def test_partial_cost_explains_away_a_correlation_carried_by_other_coordinates():
    """u = (z + 0.1 e0, z + 0.5 e1), v = (z + 0.1 e2, z + 0.5 e3): u1 and v1 correlate (0.8) only through z, which
    u0 and v0 carry, so their partial correlation given the rest is near 0 (the noise on u0, v0 and the ridge leave
    ~0.1); u0 and v0 stay partially correlated (0.69: the ridge λ = 0.05 shrinks it, since u1 and v1 nearly repeat
    them, from 0.92 without)."""
    generator = torch.Generator().manual_seed(3)
    z, e = torch.randn(20000, 1, generator=generator), torch.randn(20000, 4, generator=generator)
    u = torch.cat([z + 0.1 * e[:, :1], z + 0.5 * e[:, 1:2]], dim=1)
    v = torch.cat([z + 0.1 * e[:, 2:3], z + 0.5 * e[:, 3:]], dim=1)
    partial, _ = pair_costs([u, v], "partial")
    marginal, _ = pair_costs([u, v], "correlation")
    assert abs(float(marginal[0, 1, 1]) - 0.2) < 0.02  # 1 − 1 / 1.25 (1.01 for the 0.1 noise on z: ~0.21)
    assert float(partial[0, 1, 1]) > 0.85
    assert float(partial[0, 0, 0]) < 0.4
    exact, _ = pair_costs([u, v], "partial", ridge=1e-6)
    assert float(exact[0, 0, 0]) < 0.1


def test_partial_cost_is_the_precision_formula_for_every_pair():
    """The batched layout (pairs of unequal sizes, padded with an independent unit) against Ω = (R + λ I)⁻¹ of each
    pair's own correlation matrix R, ρ_ij·rest = −Ω_ij / √(Ω_ii Ω_jj), computed pair by pair in NumPy."""
    generator = torch.Generator().manual_seed(4)
    mixing = torch.randn(7, 7, generator=generator, dtype=torch.float64)
    stacked = torch.randn(500, 7, generator=generator, dtype=torch.float64) @ mixing
    encodings, dims, ridge = list(stacked.split([3, 2, 2], dim=1)), [3, 2, 2], 0.05
    costs, correlation = pair_costs(encodings, "partial", ridge)
    offsets = np.cumsum([0, *dims])
    for p, (a, b) in enumerate(PairLayout.of_dims(dims).pairs):
        index = np.r_[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]]
        precision = np.linalg.inv(correlation[np.ix_(index, index)] + ridge * np.eye(len(index)))
        scale = np.sqrt(np.diag(precision))
        partial = -precision / np.outer(scale, scale)
        expected = 1.0 - np.abs(partial[: dims[a], dims[a] :])
        assert np.allclose(costs[p, : dims[a], : dims[b]], expected, atol=1e-12)
        assert float(np.abs(costs[p, dims[a] :]).sum() + np.abs(costs[p, :, dims[b] :]).sum()) == 0.0  # padding


@pytest.mark.parametrize("kind", ["partial", "correlation", "squared", "w1"])
def test_structure_plans_gradient_in_the_encodings_equals_finite_differences(kind):
    """The hand-derived backward pass of StructurePlans (Sinkhorn's implicit gradient, the cost's chain rule, the
    covariance) against central differences of converged plans, for every cost of the module, over 3 modalities of
    unequal sizes (padding) in float64, through all four outputs of every pair (W, W ∘ s, W 1, Wᵀ 1); ``w1``: the
    cost comes in as a torch tensor (given_cost), no covariance cost."""
    generator = torch.Generator().manual_seed(11)
    dims = [3, 2, 2]
    stacked = torch.randn(24, 7, dtype=torch.float64, generator=generator) @ torch.randn(
        7, 7, dtype=torch.float64, generator=generator
    )
    encodings = [part.clone().requires_grad_(True) for part in stacked.split(dims, dim=1)]
    layout = PairLayout.of_dims(dims)
    count = len(layout.shapes)
    shapes = [shape for _ in range(2) for shape in layout.shapes]
    shapes += [(shape[side],) for side in range(2) for shape in layout.shapes]
    weights = [torch.randn(shape, dtype=torch.float64, generator=generator) for shape in shapes]  # 4 per pair
    search_state = (np.zeros((len(layout.pairs), 2, layout.size + 1)), np.zeros((0, 0)), 0.0)  # cold, ρ̄ not kept
    module = StructureModule(dims, {"cost": kind})

    def loss(*tensors):
        given = module.marginal_costs(list(tensors)) if kind == "w1" else None
        settings = (None if kind == "w1" else kind, 0.05, 0.6, 0.3, 1000)
        outputs = StructurePlans.apply(layout, settings, search_state, given, *tensors)[: 4 * count]
        return sum((output * weight).sum() for output, weight in zip(outputs, weights, strict=True))

    assert torch.autograd.gradcheck(loss, tuple(encodings), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_wcrl_uses_the_frozen_uniformity_weight_once_the_plan_is_frozen():
    context = MethodContext([4, 6, 4], [2, 3, 2], 8, 1, 0.3, None)
    model = build_method("wcrl", context, {"frozen_uniformity_weight": 0.0})
    batch = [torch.randn(64, 4), torch.randn(64, 6), torch.randn(64, 4)]
    encodings = model(batch)
    learning = model.loss(encodings, 0.1)
    assert float(learning.detach()) != pytest.approx(float(model.alignment(encodings, 0.1).detach()))  # λ = 0.3
    model.loss(encodings, 0.95)  # freezes the plan
    torch.testing.assert_close(model.loss(encodings, 0.95), model.alignment(encodings, 0.95))
    default = build_method("wcrl", context, {})
    assert default.current_uniformity_weight() == 0.3  # λ while the plan is searched
    default.structure.frozen = True
    assert default.current_uniformity_weight() == 0.03  # λ_frozen by default


def test_the_search_is_capped_in_steps_so_a_long_budget_searches_as_long_as_the_default_one():
    options = StructureModule([2, 2]).options
    assert search_phases(options, 400) == (0.75, 0.9)  # the default study: 300 and 360 steps, uncapped
    assert search_phases(options, 10_000) == (0.03, 0.05)  # annealed over 300 steps, frozen at step 500
    assert search_phases(options, None) == (0.75, 0.9)  # budget unknown: the fractions
    assert search_phases(options | {"anneal_max_steps": None}, 10_000) == (0.75, 0.05)
    assert search_phases(options, 10_000, lr=0.003) == (0.03, 0.05)  # the reference learning rate
    assert search_phases(options, 10_000, lr=0.001) == (0.09, 0.15)  # a third of it: 900 and 1,500 steps
    context = MethodContext([4, 6, 4], [2, 3, 2], 8, 1, 0.3, None, steps=1000)
    model = build_method("wcrl", context, {})
    batch = [torch.randn(64, 4), torch.randn(64, 6), torch.randn(64, 4)]
    assert model.structure.schedule(0.3) == model.structure.schedule(0.9)  # the final (ε, c_u) from step 300
    assert model.structure.schedule(0.2) != model.structure.schedule(0.3)
    model.loss(model(batch), 0.499)
    assert not model.structure.frozen
    model.loss(model(batch), 0.5)  # step 500 of 1000
    assert model.structure.frozen
    long_context = MethodContext([4, 6, 4], [2, 3, 2], 8, 1, 0.3, None, steps=10_000, lr=0.001)
    mmvae_w = build_method("mmvae-w", long_context, {}).structure  # keeps its measured fractions at every budget
    assert (mmvae_w.anneal_end, mmvae_w.freeze_start) == (0.5, 0.75)


@pytest.mark.parametrize(
    ("options", "expected"), [({}, [(0, 0)]), ({"freeze_min_correlation": None}, [(0, 0), (1, 1)])]
)
def test_the_freeze_threshold_is_the_given_correlation_or_the_final_dustbin_cost(options, expected):
    """Running correlations |ρ̄| 0.95 (u0, v0), 0.85 (u1, v1), 0.3 (u1, v0): frozen matched by default
    (``freeze_min_correlation`` 0.9) only where |ρ̄| > 0.9; with None where 1 − |ρ̄| < c_1 = 0.2, i.e. |ρ̄| > 0.8."""
    structure = StructureModule([2, 2], options)
    structure.running_correlation = np.eye(4)
    for (i, j), rho in {(0, 2): 0.95, (1, 3): -0.85, (1, 2): 0.3}.items():
        structure.running_correlation[i, j] = structure.running_correlation[j, i] = rho
    structure.freeze_plans()
    assert structure.frozen_plans[0].nonzero().tolist() == [list(pair) for pair in expected]
    assert structure.frozen_signs[0, 1, 1] == -1.0
