"""``mcl``: multimodal contrastive learning (Daunhawer et al., ICLR 2023)."""

from __future__ import annotations

import torch

from mmcrl.methods.base import FixedCorrespondenceMethod


class MCL(FixedCorrespondenceMethod):
    """Symmetric squared-L2 InfoNCE between every pair of modalities over all coordinates: coordinate i of a is
    aligned with coordinate i of b for i < min(k_a, k_b) (W = I). It assumes every encoded coordinate is content shared
    by the pair, i.e. it ignores partial sharing; with M > 2 the pairwise losses are summed. No other terms.
    """

    told = "nothing (aligns all)"

    def fixed_correspondence(self, a: int, b: int) -> torch.Tensor:
        return torch.eye(self.context.latent_dims[a], self.context.latent_dims[b])
