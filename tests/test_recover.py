"""Exact partial matching with a dustbin, and recovery of a planted structure."""

import numpy as np
import pytest

from mmcrl.matching import dustbin_problem, exact_partial_matching
from mmcrl.metrics import pattern_matches
from mmcrl.recover import merge_matches, recover_structure


def test_dustbin_problem_balances_mass():
    augmented, source, target = dustbin_problem(np.zeros((2, 3)), 0.4)
    assert augmented.shape == (3, 4)
    assert source.sum() == target.sum() == 5
    assert augmented[2, 3] == 0 and augmented[0, 3] == augmented[2, 0] == 0.2


def test_matching_takes_pairs_cheaper_than_the_dustbin_only():
    cost = np.array([[0.05, 0.9, 0.9], [0.9, 0.9, 0.15], [0.9, 0.5, 0.9]])
    assert sorted(exact_partial_matching(cost, dustbin_cost=0.2)) == [(0, 0), (1, 2)]
    assert sorted(exact_partial_matching(cost, dustbin_cost=0.6)) == [(0, 0), (1, 2), (2, 1)]


def planted_encodings(pattern, n=3000, seed=0):
    """Each modality's coordinates are its latents, permuted, rescaled, some sign-flipped, with a little noise."""
    rng = np.random.default_rng(seed)
    z = rng.laplace(size=(n, pattern.shape[1]))
    encodings = []
    for row in pattern:
        subset = rng.permutation(np.flatnonzero(row))
        scale = rng.choice([-2.0, -0.5, 0.7, 3.0], size=subset.size)
        encodings.append(z[:, subset] * scale + 0.05 * rng.standard_normal((n, subset.size)))
    return encodings


def test_recovery_is_exact_on_a_planted_structure():
    pattern = np.array([[1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 1, 0], [0, 1, 1, 0, 0, 1]])
    structure = recover_structure(planted_encodings(pattern), min_correlation=0.8)
    assert structure["conflicts"] == []
    assert structure["n_recovered_latents"] == 6
    assert pattern_matches(pattern, np.array(structure["recovered_pattern"]))
    assert len(structure["matches"]) == 5  # (0,1): 2 latents, (0,2): 1, (1,2): 2


def test_recovery_is_invariant_to_permuting_coordinates():
    pattern = np.array([[1, 1, 1, 0], [0, 1, 1, 1]])
    encodings = planted_encodings(pattern, seed=1)
    permuted = [h[:, ::-1] for h in encodings]
    first, second = recover_structure(encodings, 0.8), recover_structure(permuted, 0.8)
    assert pattern_matches(np.array(first["recovered_pattern"]), np.array(second["recovered_pattern"]))


def test_union_find_refuses_two_coordinates_of_one_modality_in_one_latent():
    matches = [
        {"a": 0, "i": 0, "b": 1, "j": 0, "corr": 0.99},
        {"a": 0, "i": 1, "b": 1, "j": 0, "corr": 0.9},  # conflicts with the first in modality 1's coordinate 0
        {"a": 1, "i": 0, "b": 2, "j": 0, "corr": 0.95},
        {"a": 0, "i": 1, "b": 2, "j": 0, "corr": -0.85},  # would join (0,1) to the component holding (0,0)
    ]
    merged = merge_matches([2, 1, 1], matches)
    assert merged["latent_of_coordinate"] == [[0, 1], [0], [0]]
    assert merged["recovered_pattern"] == [[1, 1], [1, 0], [1, 0]]
    assert [c["corr"] for c in merged["conflicts"]] == [0.9, -0.85]


def test_exact_partial_matching_equals_pots_network_simplex():
    import ot

    rng = np.random.default_rng(0)
    for k_a, k_b, dustbin_cost in [(3, 4, 0.5), (5, 5, 0.3), (4, 2, 0.9), (6, 3, 0.1)]:
        cost = rng.uniform(size=(k_a, k_b))
        augmented, source, target = dustbin_problem(cost, dustbin_cost)
        plan = ot.emd(source, target, augmented)
        matched = exact_partial_matching(cost, dustbin_cost)
        ours = np.zeros_like(augmented)
        for i, j in matched:
            ours[i, j] = 1.0
        ours[:k_a, k_b] = 1.0 - ours[:k_a, :k_b].sum(axis=1)
        ours[k_a, :k_b] = 1.0 - ours[:k_a, :k_b].sum(axis=0)
        ours[k_a, k_b] = source[k_a] - ours[k_a, :k_b].sum()
        np.testing.assert_allclose(ours.sum(axis=1), source)  # a feasible plan …
        np.testing.assert_allclose(ours.sum(axis=0), target)
        assert np.sum(ours * augmented) == pytest.approx(np.sum(plan * augmented))  # … of the optimal cost
