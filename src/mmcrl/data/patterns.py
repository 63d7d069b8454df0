"""Sharing patterns: which modality sees which latent.

The sharing pattern is the binary M × N matrix A with A[m, j] = 1 iff latent j ∈ S_m, the subset of latents that
modality m sees. A latent's *signature* is its column of A (the set of modalities that see it).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def pattern_from_subsets(subsets: Sequence[Sequence[int]], n_latents: int) -> np.ndarray:
    """The M × N matrix A of the subsets S_m; refuses out-of-range, repeated or unseen latents and empty modalities."""
    pattern = np.zeros((len(subsets), n_latents), dtype=np.int64)
    for modality, subset in enumerate(subsets):
        if len(subset) == 0:
            raise ValueError(f"modality {modality} sees no latent")
        if len(set(subset)) != len(subset):
            raise ValueError(f"modality {modality} lists a latent twice: {list(subset)}")
        for latent in subset:
            if not 0 <= latent < n_latents:
                raise ValueError(f"modality {modality} names latent {latent}, outside 0..{n_latents - 1}")
            pattern[modality, latent] = 1
    unseen = np.flatnonzero(pattern.sum(axis=0) == 0)
    if unseen.size:
        raise ValueError(f"latent(s) {unseen.tolist()} are seen by no modality")
    return pattern


def subsets_from_pattern(pattern: np.ndarray) -> list[list[int]]:
    """The subsets S_m (sorted latent indices) of a pattern A."""
    return [np.flatnonzero(row).tolist() for row in np.asarray(pattern)]


def random_pattern(
    n_latents: int,
    n_modalities: int,
    n_shared: int,
    unique_signatures: bool,
    rng: np.random.Generator,
    max_tries: int = 1000,
) -> np.ndarray:
    """Draw a pattern: ``n_shared`` latents seen by ≥ 2 modalities, the others private to one modality.

    Shared latents get signatures drawn uniformly from the subsets of ≥ 2 modalities (distinct when
    ``unique_signatures``); private latents go to a uniformly drawn modality. Draws are repeated until every
    modality sees at least one latent.
    """
    if not 0 <= n_shared <= n_latents:
        raise ValueError(f"n_shared = {n_shared} must lie in 0..n_latents = {n_latents}")
    signatures = [s for size in range(2, n_modalities + 1) for s in itertools.combinations(range(n_modalities), size)]
    if unique_signatures and n_shared > len(signatures):
        raise ValueError(f"{n_modalities} modalities allow only {len(signatures)} distinct shared signatures")
    for _ in range(max_tries):
        pattern = np.zeros((n_modalities, n_latents), dtype=np.int64)
        chosen = rng.choice(len(signatures), size=n_shared, replace=not unique_signatures)
        for latent, signature_index in enumerate(chosen):
            pattern[list(signatures[signature_index]), latent] = 1
        for latent in range(n_shared, n_latents):
            pattern[rng.integers(n_modalities), latent] = 1
        if pattern.sum(axis=1).min() > 0:
            return pattern
    raise ValueError("could not draw a pattern in which every modality sees a latent; add latents")
