"""``mmvae``: a multimodal VAE with shared and modality-specific latents, MMVAE+-style (Palumbo, Daunhawer, Vogt,
ICLR 2023): a mixture-of-experts posterior for the shared part, own implementation sized to the data."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from mmcrl.methods.base import Method, MethodContext
from mmcrl.models.encoders import build_encoder, mlp_encoder

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag exp(log_variance)), summed over the last dimension."""
    return -0.5 * ((x - mean).square() / log_variance.exp() + log_variance + _LOG_2PI).sum(dim=-1)


class MMVAE(Method):
    """Each modality m has a Gaussian encoder q_m(z, w_m | x_m) over a *shared* part z ∈ R^s and a *private* part
    w_m ∈ R^{k_m − s}, and an MLP decoder p_m(x_m | z, w_m) = N(x_m; g_m(z, w_m), σ_m² I) with a learned σ_m.
    The shared posterior is the mixture of experts q(z | X) = (1/M) Σ_m q_m(z | x_m). Training maximises the
    stratified MoE ELBO of MMVAE+ (one sample per expert):

    L = (1/M) Σ_m E_{z ~ q_m(z|x_m), w_m ~ q_m(w_m|x_m)} [ log p_m(x_m | z, w_m) + Σ_{n≠m} log p_n(x_n | z, w̃_n)
        − β (log q(z | X) − log p(z)) − β KL(q_m(w_m | x_m) ‖ p(w_m)) ],   w̃_n ~ p(w_n) = N(0, I),

    so z must carry what x_m says about every other modality (cross-reconstruction with a prior draw of their private
    part) and w_m the rest. The encodings are the posterior means (E[z | x_m], E[w_m | x_m]), k_m coordinates.
    It assumes one block of latents shared by *all* modalities plus private ones (no partial sharing) and is told
    only k_m; the shared size s is the option ``shared_dims``, by default ⌊min_m k_m / 2⌋ (at least 1): MMVAE+'s
    equal split of each modality's latent space between shared and private parts.
    """

    told = "nothing (shared size s = ⌊min k_m / 2⌋)"
    option_names: ClassVar[tuple[str, ...]] = ("shared_dims", "beta")

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        smallest = min(context.latent_dims)
        self.shared_dims = int(params.get("shared_dims", max(1, smallest // 2)))
        if not 1 <= self.shared_dims <= smallest:
            raise ValueError(f"mmvae shared_dims {self.shared_dims} must lie in [1, min k_m = {smallest}]")
        self.beta = float(params.get("beta", 1.0))
        self.encoders = nn.ModuleList(
            build_encoder(context.encoder_kind(m), d, 2 * k, context.width, context.depth)
            for m, (d, k) in enumerate(zip(context.observed_dims, context.latent_dims, strict=True))
        )
        self.decoders = nn.ModuleList(
            mlp_encoder(k, d, context.width, context.depth)
            for d, k in zip(context.observed_dims, context.latent_dims, strict=True)
        )
        self.log_scales = nn.Parameter(torch.zeros(len(context.latent_dims)))

    def posteriors(self, observations: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(mean, log-variance) of q_m(z, w_m | x_m) for every modality, each B × k_m (shared coordinates first)."""
        return [tuple(encoder(x).chunk(2, dim=1)) for encoder, x in zip(self.encoders, observations, strict=True)]

    def forward(self, observations: list[torch.Tensor]) -> list[torch.Tensor]:
        """Posterior means [(E[z | x_m], E[w_m | x_m])] of a batch."""
        return [mean for mean, _ in self.posteriors(observations)]

    def training_loss(self, observations: list[torch.Tensor], progress: float) -> torch.Tensor:
        posteriors = self.posteriors(observations)
        return self.negative_elbo(posteriors, [x.flatten(1) for x in observations]) + self.latent_regulariser(
            [mean for mean, _ in posteriors], progress
        )

    def latent_regulariser(self, means: list[torch.Tensor], progress: float) -> torch.Tensor:
        """An extra loss term on the posterior means (none here; :class:`mmcrl.methods.mmvae_w.MMVAEW` adds one)."""
        return means[0].new_zeros(())

    def negative_elbo(
        self, posteriors: list[tuple[torch.Tensor, torch.Tensor]], targets: list[torch.Tensor]
    ) -> torch.Tensor:
        """−L of the class docstring, averaged over the batch; each decoder runs once, on the M batches of inputs
        (one per expert m) stacked."""
        s, n_modalities = self.shared_dims, len(posteriors)
        samples = [mean + (0.5 * log_variance).exp() * torch.randn_like(mean) for mean, log_variance in posteriors]
        kl = torch.stack([self.kl_terms(sample, m, posteriors) for m, sample in enumerate(samples)])
        reconstruction = torch.zeros_like(kl)
        for n, (decoder, target) in enumerate(zip(self.decoders, targets, strict=True)):
            inputs = [
                torch.cat([sample[:, :s], samples[n][:, s:] if m == n else torch.randn_like(samples[n][:, s:])], dim=1)
                for m, sample in enumerate(samples)
            ]
            predicted = decoder(torch.cat(inputs)).view(n_modalities, *target.shape)
            log_variance = 2.0 * self.log_scales[n].expand_as(target)
            reconstruction = reconstruction + gaussian_log_density(target, predicted, log_variance)
        return -(reconstruction - self.beta * kl).mean()

    def kl_terms(
        self, sample: torch.Tensor, m: int, posteriors: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        """log q(z | X) − log p(z) at expert m's shared sample z (a one-sample estimate of the MoE KL) plus the
        closed-form KL(q_m(w_m | x_m) ‖ N(0, I)), per batch row."""
        s = self.shared_dims
        shared = sample[:, :s]
        log_mixture = torch.stack(
            [gaussian_log_density(shared, mean[:, :s], log_variance[:, :s]) for mean, log_variance in posteriors]
        ).logsumexp(dim=0) - math.log(len(posteriors))
        log_prior = gaussian_log_density(shared, torch.zeros_like(shared), torch.zeros_like(shared))
        mean, log_variance = posteriors[m][0][:, s:], posteriors[m][1][:, s:]
        kl_private = 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(dim=1)
        return log_mixture - log_prior + kl_private
