"""``mvcrl``: multi-view causal representation learning with partial observability (Yao et al., ICLR 2024)."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn

from mmcrl.methods.base import ContrastiveMethod, MethodContext
from mmcrl.methods.losses import correspondence_infonce
from mmcrl.models.correspondence import Correspondence


def relaxed_top_k(logits: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
    """A k-hot mask of the top k Gumbel-perturbed logits, with the gradient of its relaxation (straight-through).

    With perturbed scores w = (logits + g) / t, g ~ Gumbel(0, 1) i.i.d., the relaxed k-hot vector (Xie & Ermon 2019)
    is s = Σ_{r<k} p_r, p_r = softmax(w + Σ_{q<r} log(1 − p_q)); the forward value is the hard top-k indicator of w,
    the backward one that of s.
    """
    gumbel = -torch.empty_like(logits).exponential_().log()
    scores = (logits + gumbel) / temperature
    soft = torch.zeros_like(logits)
    remaining = scores
    for _ in range(k):
        step = torch.softmax(remaining, dim=0)
        soft = soft + step
        remaining = remaining + torch.log1p(-step.clamp(max=1.0 - 1e-6))
    hard = torch.zeros_like(logits).scatter_(0, scores.topk(k).indices, 1.0)
    return hard - soft.detach() + soft


def rank_pairing(mask_a: torch.Tensor, mask_b: torch.Tensor) -> torch.Tensor:
    """W ∈ [0, 1]^{k_a × k_b}: the r-th selected coordinate of a (in index order) paired with the r-th of b, weighted
    m_a[i] m_b[j] so that the straight-through gradient reaches both masks."""
    selected_a, selected_b = mask_a.detach().nonzero()[:, 0], mask_b.detach().nonzero()[:, 0]
    pairing = torch.zeros(mask_a.shape[0], mask_b.shape[0], device=mask_a.device)
    pairing[selected_a, selected_b] = 1.0
    return pairing * mask_a[:, None] * mask_b[None, :]


class MVCRL(ContrastiveMethod):
    """For every subset T of ≥ 2 modalities that share latents (Yao et al. use all subsets of views; we keep those
    with a non-empty content ∩_{m ∈ T} S_m), InfoNCE aligns the modalities of T on their *content* coordinates only:

    L = Σ_T Σ_{a<b ∈ T} InfoNCE_{W^T_ab}(f_a(x_a), f_b(x_b)),   W^T_ab = pairing of c_m^T (in index order),

    where the content coordinates c_m^T of modality m for subset T are a top-k Gumbel-softmax mask over its k_m
    coordinates with k = |∩_{m ∈ T} S_m|, the *given* content size, and learned logits c·θ_{T,m} (straight-through
    gradient; ``logit_scale`` c = 30 lets Adam's steps of size ~lr move the logits past the Gumbel noise within the
    training budget: with c = 1 the masks stay uniformly random and no pairing is learned). Yao et al.'s numerical
    code draws the mask from the batch mean of the encodings instead, without a gradient. It assumes the content
    sizes of all subsets are known (told sizes, never indices) and that a subset's content latents are what its views
    share; it has no term for private coordinates (optional uniformity).
    """

    told = "content sizes"
    told_content_sizes = True
    option_names: ClassVar[tuple[str, ...]] = (*ContrastiveMethod.option_names, "gumbel_temperature", "logit_scale")

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self.gumbel_temperature = float(params.get("gumbel_temperature", 1.0))
        self.logit_scale = float(params.get("logit_scale", 30.0))
        self.subsets = sorted(context.content_sizes, key=lambda subset: (len(subset), subset))
        too_large = [t for t in self.subsets if any(context.content_sizes[t] > context.latent_dims[m] for m in t)]
        if too_large:
            raise ValueError(f"mvcrl: content size of subset {too_large[0]} exceeds a modality's k_m")
        self.selection_logits = nn.ParameterList(
            nn.Parameter(torch.zeros(context.latent_dims[m])) for subset in self.subsets for m in subset
        )

    def content_masks(self) -> dict[tuple[int, ...], list[torch.Tensor]]:
        """For every subset T, the k-hot content mask of each of its modalities (a fresh Gumbel draw)."""
        logits = iter(self.selection_logits)
        return {
            subset: [
                relaxed_top_k(
                    self.logit_scale * next(logits), self.context.content_sizes[subset], self.gumbel_temperature
                )
                for _ in subset
            ]
            for subset in self.subsets
        }

    def alignment(self, encodings: list[torch.Tensor], progress: float) -> torch.Tensor:
        total = encodings[0].new_zeros(())
        for subset, masks in self.content_masks().items():
            mask_of = dict(zip(subset, masks, strict=True))
            for a, b in itertools.combinations(subset, 2):
                weights = rank_pairing(mask_of[a], mask_of[b])
                total = total + correspondence_infonce(encodings[a], encodings[b], Correspondence.of(weights), self.tau)
        return total
