"""Injective nonlinear mixing maps g_m: R^{|S_m|} → R^{d_m}, d_m > |S_m| (undercomplete).

g(z) = W_L σ(W_{L−1} ⋯ σ(W_1 z)), with σ = LeakyReLU(negative_slope) (a bijection of R), W_1 ∈ R^{d × k} of full
column rank and W_2..W_L ∈ R^{d × d} invertible, so g is injective. Each W has entries U(−1, 1) with unit-norm
columns and is the best-conditioned of ``n_candidates`` draws (the recipe of Yao et al. 2024 / Zimmermann et al.
2021, with the first layer rectangular).
"""

from __future__ import annotations

import numpy as np


def well_conditioned_matrix(rows: int, cols: int, n_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """The draw with the smallest 2-norm condition number among ``n_candidates`` U(−1,1) matrices with unit columns."""
    candidates = rng.uniform(-1.0, 1.0, (n_candidates, rows, cols))
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    singular_values = np.linalg.svd(candidates, compute_uv=False)
    condition = singular_values[:, 0] / singular_values[:, -1]
    return candidates[int(np.argmin(condition))]


def random_mixing(
    latent_dim: int, observed_dim: int, n_layers: int, n_candidates: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Weights [W_1, ..., W_L] of an injective LeakyReLU MLP from ``latent_dim`` to ``observed_dim``."""
    if observed_dim <= latent_dim:
        raise ValueError(f"observed dimension {observed_dim} must exceed latent dimension {latent_dim}")
    weights = [well_conditioned_matrix(observed_dim, latent_dim, n_candidates, rng)]
    weights += [well_conditioned_matrix(observed_dim, observed_dim, n_candidates, rng) for _ in range(n_layers - 1)]
    return weights


def apply_mixing(weights: list[np.ndarray], latents: np.ndarray, negative_slope: float) -> np.ndarray:
    """x = g(z) for rows z of ``latents`` (n × k) → n × d."""
    hidden = latents @ weights[0].T
    for weight in weights[1:]:
        hidden = np.where(hidden > 0, hidden, negative_slope * hidden) @ weight.T
    return hidden


def condition_numbers(weights: list[np.ndarray]) -> list[float]:
    """2-norm condition number of each layer's matrix."""
    return [float(np.linalg.cond(weight)) for weight in weights]
