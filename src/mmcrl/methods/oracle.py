"""``oracle``: contrastive encoders told the true sharing pattern (an upper reference, never a competitor)."""

from __future__ import annotations

import torch

from mmcrl.methods.base import FixedCorrespondenceMethod


class Oracle(FixedCorrespondenceMethod):
    """Coordinate i < |S_m| of modality m is assigned to latent S_m[i]; for every pair of modalities, InfoNCE aligns
    exactly the coordinates of the latents both see (W_ab[i, j] = 1 iff S_a[i] = S_b[j]), in the spirit of Yao et al.
    2024 with ground-truth content indices. A uniformity term keeps the unaligned (private) coordinates informative.
    It assumes the pattern is known; it is the ceiling a structure-discovering method should reach.
    """

    told = "true pattern"
    told_pattern = True
    default_uniformity_weight = 0.3

    def fixed_correspondence(self, a: int, b: int) -> torch.Tensor:
        subset_a, subset_b = (self.context.sharing_pattern[m].nonzero()[0].tolist() for m in (a, b))
        weights = torch.zeros(self.context.latent_dims[a], self.context.latent_dims[b])
        for i, latent in enumerate(subset_a):
            if latent in subset_b:
                weights[i, subset_b.index(latent)] = 1.0
        return weights
