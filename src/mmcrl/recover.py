"""Structure recovery: from held-out encodings to the recovered sharing pattern Â and a global latent index.

For every pair of modalities (a, b), coordinates are matched by the exact partial OT plan on the cost
C_ij = 1 − |corr(u_i, v_j)| with dustbin cost 1 − ρ_min (see :mod:`mmcrl.matching`): i ↔ j can be matched
only if |corr| > ρ_min. The pairwise matches are then merged across all pairs by union-find, strongest correlation
first; a merge that would put two coordinates of one modality into one global latent is a *conflict*: it is refused
and reported. Each resulting component is one recovered latent; Â[m, g] = 1 iff modality m has a coordinate in g.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from mmcrl.matching import cross_correlation, exact_partial_matching

Coordinate = tuple[int, int]


def pairwise_matches(encodings: list[np.ndarray], min_correlation: float) -> list[dict[str, Any]]:
    """Matched coordinate pairs {a, i, b, j, corr} for every pair of modalities a < b."""
    matches = []
    for a, b in itertools.combinations(range(len(encodings)), 2):
        correlation = cross_correlation(encodings[a], encodings[b])
        for i, j in exact_partial_matching(1.0 - np.abs(correlation), 1.0 - min_correlation):
            matches.append({"a": a, "i": i, "b": b, "j": j, "corr": float(correlation[i, j])})
    return matches


def merge_matches(latent_dims: list[int], matches: list[dict[str, Any]]) -> dict[str, Any]:
    """Union-find over coordinates (strongest |corr| first), at most one coordinate per modality per component."""
    parent: dict[Coordinate, Coordinate] = {(m, i): (m, i) for m, k in enumerate(latent_dims) for i in range(k)}
    members: dict[Coordinate, set[Coordinate]] = {node: {node} for node in parent}

    def root(node: Coordinate) -> Coordinate:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    conflicts = []
    for match in sorted(matches, key=lambda item: -abs(item["corr"])):
        first, second = root((match["a"], match["i"])), root((match["b"], match["j"]))
        if first == second:
            continue
        if {m for m, _ in members[first]} & {m for m, _ in members[second]}:
            conflicts.append(match)
            continue
        parent[second] = first
        members[first] |= members.pop(second)
    components = sorted((sorted(nodes) for nodes in members.values()), key=lambda nodes: nodes[0])
    latent_of_coordinate = [[-1] * k for k in latent_dims]
    pattern = np.zeros((len(latent_dims), len(components)), dtype=np.int64)
    for latent, nodes in enumerate(components):
        for m, i in nodes:
            latent_of_coordinate[m][i] = latent
            pattern[m, latent] = 1
    return {
        "latent_of_coordinate": latent_of_coordinate,
        "recovered_pattern": pattern.tolist(),
        "n_recovered_latents": len(components),
        "conflicts": conflicts,
    }


def recover_structure(encodings: list[np.ndarray], min_correlation: float) -> dict[str, Any]:
    """The full recovery record (``mmcrl recover`` saves one per seed in ``structures.json``)."""
    matches = pairwise_matches(encodings, min_correlation)
    return {"min_correlation": min_correlation, "matches": matches} | merge_matches(
        [h.shape[1] for h in encodings], matches
    )
