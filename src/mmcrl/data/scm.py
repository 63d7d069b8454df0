"""Latent structural causal model: a random DAG, nonlinear mechanisms and non-Gaussian exogenous noise.

z_j = √s · f_j(z_pa(j)) + √(1 − s) · ε_j, then standardised, where f_j is a random one-hidden-layer tanh MLP of the
parents rescaled to unit variance, s ∈ [0, 1) is the causal strength and ε_j is unit-variance noise from family
``noise[j]``. A root node is its own noise. Nodes are generated in a topological order drawn from the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOISE_FAMILIES = ("gaussian", "uniform", "laplace", "student-t", "gaussian-mixture")
_STUDENT_DF = 5.0
_MIXTURE_MEAN = 0.9
_MECHANISM_WIDTH = 16


def sample_noise(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of zero-mean, unit-variance noise from ``family`` (see :data:`NOISE_FAMILIES`)."""
    if family == "gaussian":
        return rng.standard_normal(n)
    if family == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), n)
    if family == "laplace":
        return rng.laplace(0.0, 1.0 / np.sqrt(2.0), n)
    if family == "student-t":
        return rng.standard_t(_STUDENT_DF, n) * np.sqrt((_STUDENT_DF - 2.0) / _STUDENT_DF)
    if family == "gaussian-mixture":
        # ½ N(−μ, σ²) + ½ N(μ, σ²) with μ² + σ² = 1: bimodal, unit variance.
        signs = rng.choice([-1.0, 1.0], n)
        return signs * _MIXTURE_MEAN + rng.standard_normal(n) * np.sqrt(1.0 - _MIXTURE_MEAN**2)
    raise ValueError(f"unknown noise family {family!r}; allowed: {', '.join(NOISE_FAMILIES)}")


def random_dag(n_latents: int, edge_probability: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A DAG as an adjacency matrix (adjacency[i, j] = 1 iff i → j) and its topological order.

    The order is a random permutation; each pair earlier → later is an edge with probability ``edge_probability``.
    """
    order = rng.permutation(n_latents)
    adjacency = np.zeros((n_latents, n_latents), dtype=np.int64)
    for position, child in enumerate(order):
        for parent in order[:position]:
            if rng.random() < edge_probability:
                adjacency[parent, child] = 1
    return adjacency, order


def sample_latents(
    adjacency: np.ndarray,
    order: Sequence[int],
    noise: Sequence[str],
    causal_strength: float,
    n: int,
    mechanism_rng: np.random.Generator,
    noise_rng: np.random.Generator,
) -> np.ndarray:
    """n samples of z (n × N) from the SCM, each latent standardised over the n samples.

    Mechanism parameters come from ``mechanism_rng`` (drawn in topological order, so they depend only on the DAG and
    the seed); noise draws come from ``noise_rng``.
    """
    n_latents = adjacency.shape[0]
    latents = np.zeros((n, n_latents))
    for child in order:
        parents = np.flatnonzero(adjacency[:, child])
        exogenous = sample_noise(noise[child], n, noise_rng)
        if parents.size:
            hidden_weights = mechanism_rng.normal(0.0, 1.5, (parents.size, _MECHANISM_WIDTH))
            hidden_bias = mechanism_rng.normal(0.0, 0.5, _MECHANISM_WIDTH)
            output_weights = mechanism_rng.normal(0.0, 1.0, _MECHANISM_WIDTH)
            mechanism = np.tanh(latents[:, parents] @ hidden_weights + hidden_bias) @ output_weights
            mechanism = _standardise(mechanism)
            value = np.sqrt(causal_strength) * mechanism + np.sqrt(1.0 - causal_strength) * exogenous
        else:
            value = exogenous
        latents[:, child] = _standardise(value)
    return latents


def _standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / max(values.std(), 1e-12)
