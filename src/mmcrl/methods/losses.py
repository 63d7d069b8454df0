"""Losses shared by the contrastive methods.

Notation: u = f_a(x_a) ∈ R^{B × k_a}, v = f_b(x_b) ∈ R^{B × k_b} are the encodings of one batch of B paired samples.
A *correspondence* W ∈ [0, 1]^{k_a × k_b} says which coordinate of a is the same latent as which coordinate of b, and
a sign matrix s ∈ {±1}^{k_a × k_b} allows a coordinate to be encoded with opposite signs in the two modalities
(:class:`mmcrl.models.correspondence.Correspondence` holds both as the loss reads them).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mmcrl.models.correspondence import Correspondence


def correspondence_infonce(
    u: torch.Tensor, v: torch.Tensor, correspondence: Correspondence, tau: float
) -> torch.Tensor:
    """Symmetric InfoNCE whose similarity counts only corresponding coordinates.

    sim(k, l) = −(1/τ) Σ_ij W_ij (u_ki − s_ij v_lj)², expanded as
    −(1/τ) [ Σ_i u_ki² W_i· + Σ_j v_lj² W_·j − 2 u_k (W ∘ s) v_lᵀ ] so the B × B logits cost one matrix product
    (W ∘ s and the masses W_i·, W_·j are the ``correspondence``'s fields).
    The loss is ½ [CE(sim, diag) + CE(simᵀ, diag)]: positives are the paired samples, negatives the rest of the batch.
    For W = I (all coordinates matched in order) this is the squared-L2 InfoNCE of Daunhawer et al. 2023.
    """
    cross = u @ correspondence.signed @ v.T
    squared_distance = (
        (u.square() @ correspondence.row_mass)[:, None]
        + (v.square() @ correspondence.column_mass)[None, :]
        - 2.0 * cross
    )
    logits = -squared_distance / tau
    targets = torch.arange(u.shape[0], device=u.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def pairwise_alignment(
    encodings: list[torch.Tensor],
    pairs: list[tuple[int, int]],
    correspondences: list[Correspondence],
    tau: float,
) -> torch.Tensor:
    """Σ_{(a, b)} InfoNCE_{W_ab, s_ab}(u_a, u_b) over the pairs of modalities, ``correspondences`` in the order of
    ``pairs``. A pair whose fixed W is all zero contributes nothing (its term would be the constant log B); a W that
    is learned (differentiable) always contributes, since its gradient matters even at zero, and is not checked
    (the check cost ~1.5 % of a step at batch 128, benchmarks/RESULTS.md, session 16)."""
    total = encodings[0].new_zeros(())
    for (a, b), correspondence in zip(pairs, correspondences, strict=True):
        if correspondence.row_mass.requires_grad or correspondence.row_mass.sum() > 0:
            total = total + correspondence_infonce(encodings[a], encodings[b], correspondence, tau)
    return total


def uniformity(u: torch.Tensor, t: float = 1.0) -> torch.Tensor:
    """Wang & Isola (2020) uniformity log E_{k≠l} exp(−t ‖u_k − u_l‖²); lower means more spread (higher entropy).

    ‖u_k − u_l‖² = ‖u_k‖² + ‖u_l‖² − 2 u_k·u_l as one matrix product (faster than ``torch.pdist`` on CPU), and the
    mean over k ≠ l as a log-sum-exp with the diagonal masked out, which stays finite however far apart points are.
    """
    n = u.shape[0]
    squared_norms = u.square().sum(dim=1)
    squared_distance = (squared_norms[:, None] + squared_norms[None, :] - 2.0 * u @ u.T).clamp_min(0.0)
    diagonal = torch.eye(n, dtype=torch.bool, device=u.device)
    scores = (-t * squared_distance).masked_fill(diagonal, float("-inf"))
    return torch.logsumexp(scores.flatten(), dim=0) - math.log(n * (n - 1))


def unexplained_variance(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(1/d) Σ_j E_k (x̂_kj − x_kj)² / Var_k x_kj over the d columns of a B × d batch: the mean fraction of each
    column's variance (in the batch) that the prediction leaves unexplained, 1 − R² averaged over columns; 0 for a
    perfect prediction, 1 for the column means. A constant column counts as explained (its variance is floored)."""
    squared_error = (prediction - target).square().mean(dim=0)
    return (squared_error / target.var(dim=0, unbiased=False).clamp_min(1e-8)).mean()
