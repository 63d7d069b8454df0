"""The Wasserstein structure module: marginals, matching behaviour, gradients, permutation invariance."""

import numpy as np
import pytest
import torch

from mmcrl.methods import MethodContext, build_method
from mmcrl.methods.wcrl import sorted_marginal_distance, standardised
from mmcrl.models.wasserstein import dustbin_problem, soft_partial_plan


def correlation_cost(u, v):
    return 1.0 - (standardised(u).T @ standardised(v) / u.shape[0]).abs()


def planted(n=2000, seed=0):
    """u = (z0, z1, e0), v = (−3 z1, e1, 2 z0): coordinates 0↔2 and 1↔0 are shared, u2 and v1 are not."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=generator)
    noise = torch.randn(n, 2, generator=generator)
    return torch.stack([z[:, 0], z[:, 1], noise[:, 0]], 1), torch.stack([-3 * z[:, 1], noise[:, 1], 2 * z[:, 0]], 1)


def test_plan_respects_the_marginals_of_the_dustbin_problem():
    u, v = planted()
    cost = correlation_cost(u, v)
    plan, _ = soft_partial_plan(cost, 0.2, 0.05, 1000, 1e-9)
    augmented, source, target = dustbin_problem(cost.double(), 0.2)
    assert augmented.shape == (4, 4) and float(source.sum()) == float(target.sum()) == 6.0
    assert (plan.sum(dim=1) <= 1 + 1e-6).all() and (plan.sum(dim=0) <= 1 + 1e-6).all()
    full = torch.cat([plan, (1 - plan.sum(1, keepdim=True))], 1)
    torch.testing.assert_close(full.sum(1), torch.ones(3), atol=1e-6, rtol=0)


def test_identical_coordinates_are_matched_and_independent_ones_go_to_the_dustbin():
    u, v = planted()
    plan, _ = soft_partial_plan(correlation_cost(u, v), 0.2, 0.02, 1000, 1e-9)
    assert plan[0, 2] > 0.95 and plan[1, 0] > 0.95
    assert plan[2].sum() < 0.05 and plan[:, 1].sum() < 0.05


def test_gradients_flow_through_the_plan():
    u, v = planted(500)
    u.requires_grad_(True)
    plan, _ = soft_partial_plan(correlation_cost(u, v), 0.2, 0.1, 200, 1e-9)
    plan[0, 2].backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0


def test_plan_is_equivariant_to_permuting_coordinates():
    u, v = planted()
    order_u, order_v = torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0])
    plan, _ = soft_partial_plan(correlation_cost(u, v), 0.2, 0.05, 1000, 1e-9)
    permuted, _ = soft_partial_plan(correlation_cost(u[:, order_u], v[:, order_v]), 0.2, 0.05, 1000, 1e-9)
    torch.testing.assert_close(permuted, plan[order_u][:, order_v], atol=1e-6, rtol=0)


def test_marginal_distance_is_zero_for_equal_distributions_up_to_sign_and_scale():
    u, v = planted()
    distance = sorted_marginal_distance(u, v)
    assert distance[1, 0] < 1e-6  # v0 = −3 z1: the same marginal up to sign and scale
    assert distance[0, 0] < 0.1  # independent but both Gaussian: W1 cannot tell (this is why it is for unpaired data)


@pytest.mark.parametrize("params", [{}, {"dustbin": False}, {"plan_gradient": False}, {"cost": "correlation+w1"}])
def test_wcrl_loss_is_finite_and_freezes_to_a_binary_plan(params):
    context = MethodContext([4, 4], [2, 2], 8, 1, 0.3, np.array([[1, 1, 0], [1, 0, 1]]))
    model = build_method("wcrl", context, params)
    batch = [torch.randn(64, 4), torch.randn(64, 4)]
    assert torch.isfinite(model.loss(model(batch), 0.1))
    model.loss(model(batch), 0.6)
    assert bool(model.frozen)
    assert set(model.frozen_plan_0_1.unique().tolist()) <= {0.0, 1.0}
    assert model.context.sharing_pattern is None


def test_a_warm_start_reaches_the_converged_plan_in_a_few_iterations():
    u, v = planted()
    cost = correlation_cost(u, v)
    converged, duals = soft_partial_plan(cost, 0.2, 0.05, 2000, 1e-12)
    nearby = cost + 0.01 * torch.rand(cost.shape, generator=torch.Generator().manual_seed(1))
    reference, _ = soft_partial_plan(nearby, 0.2, 0.05, 2000, 1e-12)
    warm, _ = soft_partial_plan(nearby, 0.2, 0.05, 10, 1e-12, warmstart=duals)
    cold, _ = soft_partial_plan(nearby, 0.2, 0.05, 10, 1e-12)
    assert (warm - reference).abs().max() < 1e-3
    assert (warm - reference).abs().max() < (cold - reference).abs().max()
    assert converged.shape == (3, 3)
