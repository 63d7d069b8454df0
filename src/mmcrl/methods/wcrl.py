"""``wcrl``: contrastive encoders whose cross-modal alignment is weighted by a learned Wasserstein structure plan."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from mmcrl.methods.base import ContrastiveMethod, MethodContext
from mmcrl.models.wasserstein import exact_partial_matching, soft_partial_plans

DEFAULTS: dict[str, Any] = {
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
    "uniformity_weight": 0.3,
}
_NO_DUSTBIN_COST = 1e3  # a dustbin this expensive is never used: the plan matches min(k_a, k_b) coordinates


def standardised(u: torch.Tensor) -> torch.Tensor:
    """Columns of a batch centred and scaled to unit variance."""
    return (u - u.mean(dim=0)) / (u.std(dim=0, unbiased=False) + 1e-6)


def sorted_marginal_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """W1(ũ_i, ±ṽ_j) between standardised 1-D marginals, the better sign: mean |sort ũ_i − sort(±ṽ_j)|."""
    su, sv = torch.sort(standardised(u), dim=0).values, torch.sort(standardised(v), dim=0).values
    same = (su[:, :, None] - sv[:, None, :]).abs().mean(dim=0)
    flipped = (su[:, :, None] + sv.flip(0)[:, None, :]).abs().mean(dim=0)
    return torch.minimum(same, flipped)


class WCRL(ContrastiveMethod):
    """For every pair of modalities (a, b), a partial OT plan W_ab between their coordinates decides which coordinates
    are the same latent, and the correspondence-weighted InfoNCE aligns exactly those (signs s = sign corr):

    L = Σ_{a<b} InfoNCE_{W_ab, s_ab}(f_a(x_a), f_b(x_b)) + λ Σ_m U(f_m(x_m)),
    W_ab = Sinkhorn_ε(C_ab with a dustbin of cost c_u),   C_ab[i, j] = 1 − |corr(u_i, v_j)|  (on the batch).

    Gradients flow through W (Sinkhorn's mass constraint then pushes competing pairs apart, driving the
    cross-correlation to a partial permutation); ε and c_u are annealed from (ε_0, c_0) to (ε_1, c_1) over the first
    ``anneal_fraction`` of training; Sinkhorn (all pairs in one batch) is warm-started from the previous step's
    dual potentials, so ``sinkhorn_iterations`` = 10 per step suffice; after ``freeze_fraction`` the plan is frozen
    to the exact (network simplex) partial matching of a running mean of the correlations. The uniformity term
    keeps coordinates spread (it prevents one latent being encoded twice). It is told only k_m, never the pattern or
    the number of shared latents. ``cost``: ``correlation`` (paired data), ``w1`` (1-D Wasserstein distance of the
    marginals, for unpaired data) or ``correlation+w1``.
    """

    told = "nothing (learns the pattern)"
    option_names: ClassVar[tuple[str, ...]] = ("tau", *DEFAULTS)

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self.options = DEFAULTS | params
        self.uniformity_weight = float(self.options["uniformity_weight"])
        if self.options["cost"] not in ("correlation", "w1", "correlation+w1"):
            raise ValueError(f"wcrl cost {self.options['cost']!r} is not one of correlation, w1, correlation+w1")
        for a, b in self.pairs:
            shape = (context.latent_dims[a], context.latent_dims[b])
            self.register_buffer(f"running_correlation_{a}_{b}", torch.zeros(shape))
            self.register_buffer(f"frozen_plan_{a}_{b}", torch.zeros(shape))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))
        size = max(context.latent_dims) + 1
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

    def correspondences(
        self, encodings: list[torch.Tensor], progress: float
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
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

    def loss(self, encodings: list[torch.Tensor], progress: float) -> torch.Tensor:
        if self.training and not self.frozen and progress >= self.options["freeze_fraction"]:
            self.freeze_plans()
        return super().loss(encodings, progress)

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
