"""Adam without ``torch.optim``: the optimiser every training job uses.

Constructing any ``torch.optim`` optimiser imports ``torch._dynamo`` (its methods are wrapped to disable the
compiler), which costs 3.5 s per process on a laptop CPU, more than a third of a small training job of the default
study (``python benchmarks/job_overhead.py`` measures both). This is the same algorithm (Kingma & Ba, 2015, with
torch's defaults: no weight decay, no AMSGrad), on the same ``torch._foreach`` kernels:

    m_t = β₁ m_{t−1} + (1 − β₁) g_t,        v_t = β₂ v_{t−1} + (1 − β₂) g_t²,
    θ_t = θ_{t−1} − lr · (m_t / (1 − β₁ᵗ)) / (√v_t / √(1 − β₂ᵗ) + ε).

A parameter whose gradient is ``None`` at a step is left unchanged and its moments are not updated, as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


class Adam:
    """Adam on ``params`` with learning rate ``lr`` (settable between steps), betas and eps as in ``torch.optim``."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = [0] * len(self.params)
        self.first_moments = [torch.zeros_like(p) for p in self.params]
        self.second_moments = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not active:
            return
        beta1, beta2 = self.betas
        params = [self.params[i] for i in active]
        grads = [self.params[i].grad for i in active]
        first = [self.first_moments[i] for i in active]
        second = [self.second_moments[i] for i in active]
        torch._foreach_lerp_(first, grads, 1 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, 1 - beta2)
        for i in active:
            self.steps[i] += 1
        steps = [self.steps[i] for i in active]
        denominators = torch._foreach_sqrt(second)
        torch._foreach_div_(denominators, [math.sqrt(1 - beta2**t) for t in steps])
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, first, denominators, [-self.lr / (1 - beta1**t) for t in steps])

    def state_dict(self) -> dict[str, Any]:
        """Step counts and moments (with the learning rate), enough to resume exactly."""
        return {
            "lr": self.lr,
            "steps": list(self.steps),
            "first_moments": [m.clone() for m in self.first_moments],
            "second_moments": [v.clone() for v in self.second_moments],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["steps"]) != len(self.params):
            raise ValueError(f"optimiser state holds {len(state['steps'])} parameters, the model {len(self.params)}")
        self.lr, self.steps = state["lr"], list(state["steps"])
        moments = self.first_moments + self.second_moments
        for target, source in zip(moments, state["first_moments"] + state["second_moments"], strict=True):
            target.copy_(source)
