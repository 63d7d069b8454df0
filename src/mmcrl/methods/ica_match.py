"""``ica-match``: linear ICA per modality, then cross-modal matching of the components by their 1-D marginals
(Sturma, Squires, Drton, Uhler, NeurIPS 2023, "Unpaired multi-domain causal representation learning")."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import torch

from mmcrl.methods.base import Method, MethodContext
from mmcrl.recover import merge_matches

DEFAULTS: dict[str, Any] = {"alpha": 0.05, "max_iter": 1000}


def signed_marginal_comparison(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare every standardised component u_i with every ±v_j by their 1-D marginals.

    Returns (D, s, p), each k_a × k_b: D_ij = min_{s=±1} W1(u_i, s v_j) (the 1-D Wasserstein-1 distance between the
    empirical marginals), s_ij the minimising sign, and p_ij the two-sample Kolmogorov–Smirnov p-value of
    u_i vs s_ij v_j. The samples of u and v need not be paired.
    """
    from scipy.stats import ks_2samp, wasserstein_distance  # here: slow to import, and only this method needs it

    distance = np.zeros((u.shape[1], v.shape[1]))
    signs = np.ones_like(distance)
    p_values = np.zeros_like(distance)
    for i, j in itertools.product(range(u.shape[1]), range(v.shape[1])):
        same, flipped = wasserstein_distance(u[:, i], v[:, j]), wasserstein_distance(u[:, i], -v[:, j])
        signs[i, j] = 1.0 if same <= flipped else -1.0
        distance[i, j] = min(same, flipped)
        p_values[i, j] = ks_2samp(u[:, i], signs[i, j] * v[:, j]).pvalue
    return distance, signs, p_values


def mutual_best_matches(distance: np.ndarray, p_values: np.ndarray, level: float) -> list[tuple[int, int]]:
    """(i, j) with j = argmin_j' D_ij' and i = argmin_i' D_i'j (mutual best) whose KS test does not reject equal
    marginals at ``level`` (p_ij > level)."""
    return [
        (i, int(j))
        for i, j in enumerate(distance.argmin(axis=1))
        if distance[:, j].argmin() == i and p_values[i, j] > level
    ]


def consistent_factors(latent_dims: list[int], matches: dict[tuple[int, int], list[tuple[int, int]]]) -> list[dict]:
    """Joint factors: the pairwise matches merged across modalities (union-find, strongest first, never two
    coordinates of one modality), keeping only factors in which *every* two member modalities matched their two
    members directly (the consistency check, binding where a factor spans ≥ 3 modalities).
    Each factor is {modality: coordinate}."""
    records = [{"a": a, "i": i, "b": b, "j": j, "corr": 1.0} for (a, b), pairs in matches.items() for i, j in pairs]
    merged = merge_matches(latent_dims, records)
    members: dict[int, dict[int, int]] = {}
    for m, row in enumerate(merged["latent_of_coordinate"]):
        for i, factor in enumerate(row):
            members.setdefault(factor, {})[m] = i
    return [
        factor
        for factor in members.values()
        if len(factor) >= 2
        and all((factor[a], factor[b]) in matches[(a, b)] for a, b in itertools.combinations(sorted(factor), 2))
    ]


class ICAMatch(Method):
    """Linear ICA per modality, x_m ≈ A_m ε_m (FastICA, k_m unit-variance components), then, for every pair of
    modalities, each component of a is compared with each component of b (both signs) by the 1-D Wasserstein-1
    distance of their marginals: i ↔ j is a match iff they are each other's best match and the two-sample KS test
    does not reject equal marginals at the Bonferroni-adjusted level α / (k_a k_b). Matches are merged across pairs
    into joint factors that must be consistent (every two member modalities matched directly). The marginals are
    compared on disjoint halves of the samples (a on the first, b on the second), as for unpaired domains. It assumes
    linear mixing, independent non-Gaussian sources and pairwise different marginals; it is told only k_m. Not
    gradient-trained: :meth:`fit_data` fits it in one call; its encodings are the standardised components, each
    modality's matched ones first in joint-factor order, signed like the factor's first modality.
    """

    told = "nothing (linear ICA + marginal matching)"
    trainable = False
    option_names: ClassVar[tuple[str, ...]] = tuple(DEFAULTS)

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self.options = DEFAULTS | params
        for m, (d, k) in enumerate(zip(context.observed_dims, context.latent_dims, strict=True)):
            self.register_buffer(f"offset_{m}", torch.zeros(d))
            self.register_buffer(f"projection_{m}", torch.zeros(k, d))
        self.pairs = list(itertools.combinations(range(len(context.latent_dims)), 2))
        for a, b in self.pairs:
            self.register_buffer(f"matched_{a}_{b}", torch.zeros(context.latent_dims[a], context.latent_dims[b]))

    def forward(self, observations: list[torch.Tensor]) -> list[torch.Tensor]:
        """h_m = P_m (x_m − μ_m): the signed, reordered, standardised ICA components."""
        return [
            (x.flatten(1) - getattr(self, f"offset_{m}")) @ getattr(self, f"projection_{m}").T
            for m, x in enumerate(observations)
        ]

    def fit_data(self, observations: list[np.ndarray], seed: int) -> None:
        from sklearn.decomposition import FastICA  # here: every train job imports the registry, only this uses it

        unmixing, offsets, sources = [], [], []
        for m, x in enumerate(observations):
            x = x.reshape(len(x), -1).astype(np.float64)
            ica = FastICA(
                self.context.latent_dims[m],
                whiten="unit-variance",
                max_iter=self.options["max_iter"],
                random_state=seed + m,
            )
            components = ica.fit_transform(x)
            unmixing.append(ica.components_ / components.std(axis=0)[:, None])
            offsets.append(ica.mean_)
            sources.append((components - components.mean(axis=0)) / components.std(axis=0))
        half = len(sources[0]) // 2
        matches, signs = {}, {}
        for a, b in self.pairs:
            distance, signs[(a, b)], p_values = signed_marginal_comparison(sources[a][:half], sources[b][half:])
            level = self.options["alpha"] / distance.size
            matches[(a, b)] = mutual_best_matches(distance, p_values, level)
        factors = consistent_factors(self.context.latent_dims, matches)
        self.store(unmixing, offsets, factors, signs)

    @torch.no_grad()
    def store(
        self,
        unmixing: list[np.ndarray],
        offsets: list[np.ndarray],
        factors: list[dict[int, int]],
        signs: dict[tuple[int, int], np.ndarray],
    ) -> None:
        """Write P_m (rows reordered: factor members first, signed like the factor's first modality), μ_m and the
        0/1 matched-coordinate matrices (in the reordered coordinates) into the buffers."""
        position: list[dict[int, int]] = [{} for _ in unmixing]
        for m, rows in enumerate(unmixing):
            order = [factor[m] for factor in factors if m in factor]
            order += [i for i in range(len(rows)) if i not in order]
            position[m] = {i: new for new, i in enumerate(order)}
            sign = np.ones(len(rows))
            for factor in factors:
                first = min(factor)
                if m in factor and m != first:
                    sign[factor[m]] = signs[(first, m)][factor[first], factor[m]]
            getattr(self, f"projection_{m}").copy_(torch.from_numpy((rows * sign[:, None])[order]))
            getattr(self, f"offset_{m}").copy_(torch.from_numpy(offsets[m]))
        for a, b in self.pairs:
            matched = getattr(self, f"matched_{a}_{b}")
            matched.zero_()
            for factor in factors:
                if a in factor and b in factor:
                    matched[position[a][factor[a]], position[b][factor[b]]] = 1.0
