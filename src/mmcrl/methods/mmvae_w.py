"""``mmvae-w``: the ``mmvae`` multimodal VAE with the Wasserstein structure module plugged in as one loss term."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from mmcrl.methods.base import MethodContext
from mmcrl.methods.mmvae import MMVAE
from mmcrl.models.wasserstein import STRUCTURE_DEFAULTS, StructureModule


class MMVAEW(MMVAE):
    """:class:`~mmcrl.methods.mmvae.MMVAE` unchanged, plus the structure module's plan-weighted InfoNCE on the
    posterior means μ_m = (E[z | x_m], E[w_m | x_m]):

    L = L_MMVAE + λ_W Σ_{a<b} InfoNCE_{W_ab, s_ab}(μ_a, μ_b),   (W_ab, s_ab) = StructureModule(μ_1, …, μ_M),

    λ_W = ``structure_weight``, temperature ``tau``, the module's options as in ``wcrl``. The plug-in demonstration:
    the module decides which coordinates of which modalities to align, so the VAE's latents can follow a partial
    sharing pattern that its single all-modality shared block cannot express. Told only k_m, like ``mmvae``.
    """

    option_names: ClassVar[tuple[str, ...]] = (*MMVAE.option_names, "structure_weight", "tau", *STRUCTURE_DEFAULTS)
    # the module's earlier schedule, mmvae-w's measured configuration: wcrl's softer start (ε 0.3, c_u 1.0) and
    # slower annealing (over 3/4, frozen at 0.9) were chosen for wcrl; the start was mixed for mmvae-w on two chain3
    # tuning seeds (docs/method.md), the annealing was not tried on it
    structure_defaults: ClassVar[dict[str, Any]] = {
        "cost": "correlation",  # the partial-correlation cost was chosen for wcrl and not tried on mmvae-w
        "epsilon_start": 0.1,
        "dustbin_cost_start": 0.5,
        "anneal_fraction": 0.5,
        "freeze_fraction": 0.75,
        "anneal_max_steps": None,  # wcrl's search caps (tenth increment) were not measured on mmvae-w: its fractions
        "freeze_max_steps": None,  # hold at every budget
        "freeze_min_correlation": None,  # wcrl's freeze at |ρ̄| > 0.9 (eighteenth session) was not tried on mmvae-w
    }

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self.structure_weight = float(params.get("structure_weight", 1.0))
        self.tau = float(params.get("tau", context.tau))
        options = self.structure_defaults | {key: value for key, value in params.items() if key in STRUCTURE_DEFAULTS}
        self.structure = StructureModule(context.latent_dims, options, context.steps, context.lr)

    def latent_regulariser(self, means: list[torch.Tensor], progress: float) -> torch.Tensor:
        return self.structure_weight * self.structure.alignment_loss(means, progress, self.tau)
