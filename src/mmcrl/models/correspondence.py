"""A correspondence between the coordinates of two modalities, in the form the contrastive loss reads it."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Correspondence(NamedTuple):
    """W ∈ [0, 1]^{k_a × k_b} (W_ij: how much coordinate i of a and coordinate j of b are the same latent) with signs
    s ∈ {−1, 0, 1}^{k_a × k_b}, held as what :func:`mmcrl.methods.losses.correspondence_infonce` reads: ``weights``
    W, ``signed`` W ∘ s, ``row_mass`` W 1 and ``column_mass`` Wᵀ 1. The structure module computes all four in one
    autograd Function (fewer torch operations per training step than the products and sums below); a fixed
    correspondence builds them with :meth:`of`."""

    weights: torch.Tensor
    signed: torch.Tensor
    row_mass: torch.Tensor
    column_mass: torch.Tensor

    @classmethod
    def of(cls, weights: torch.Tensor, signs: torch.Tensor | None = None) -> Correspondence:
        """The correspondence of W and s (all +1 when ``signs`` is None)."""
        signed = weights if signs is None else weights * signs
        return cls(weights, signed, weights.sum(dim=1), weights.sum(dim=0))
