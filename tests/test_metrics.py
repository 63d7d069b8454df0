"""Tests of mmcrl.metrics against hand-computed cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mmcrl.metrics import (
    abs_correlation,
    block_pair_scores,
    dag_to_cpdag_shd,
    identifiability_classes,
    latent_signatures,
    matched_correlations,
    mcc,
    pattern_matches,
    precision_recall_f1,
    r2_per_latent,
    shared_pairs,
)

# ---------------------------------------------------------------- signatures and identifiability classes


def test_signatures_and_block_private_classes():
    pattern = np.array([[1, 1, 1, 0], [1, 1, 0, 1]])
    assert latent_signatures(pattern) == [frozenset({0, 1}), frozenset({0, 1}), frozenset({0}), frozenset({1})]
    assert identifiability_classes(pattern) == ["block", "block", "private", "private"]


def test_unique_signatures_are_identifiable():
    pattern = np.array([[1, 1, 0, 1], [1, 0, 1, 0], [0, 1, 1, 0]])
    assert identifiability_classes(pattern) == ["identifiable", "identifiable", "identifiable", "private"]


def test_unseen_latent_raises_naming_it():
    pattern = np.array([[1, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="latent 1"):
        identifiability_classes(pattern)


# ---------------------------------------------------------------- correlations and MCC


def test_monotone_permuted_sign_flipped_copy():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(500, 3))
    # learned column 0 <- latent 2, 1 <- latent 0 (sign flip), 2 <- latent 1 (sign flip); all strictly monotone
    learned = np.c_[np.exp(true[:, 2] / 2), -(true[:, 0] ** 3), np.tanh(-true[:, 1])]
    scores, assignment = matched_correlations(true, learned, kind="spearman")
    assert mcc(true, learned, kind="spearman") == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(scores, 1.0, atol=1e-12)
    np.testing.assert_array_equal(assignment, [1, 2, 0])
    pearson = mcc(true, learned, kind="pearson")
    assert 0.8 < pearson < 0.95  # the nonlinear transforms lower Pearson but not Spearman
    np.testing.assert_array_equal(matched_correlations(true, learned)[1], [1, 2, 0])


def test_hungarian_picks_off_diagonal():
    # t0, t1, t2: orthogonal, zero-mean, unit-variance columns, so corr(t_i, sum_k c_k t_k) = c_i / ||c||
    t0, t1, t2 = np.array([1.0, -1, 1, -1]), np.array([1.0, 1, -1, -1]), np.array([1.0, -1, -1, 1])
    true = np.c_[t0, t1]
    learned = np.c_[4 * t0 + 3 * t1, 3 * t0 + 4 * t2]
    np.testing.assert_allclose(abs_correlation(true, learned), [[0.8, 0.6], [0.6, 0.0]], atol=1e-12)
    # diagonal: 0.8 + 0.0 = 0.8 < off-diagonal: 0.6 + 0.6 = 1.2 (a greedy match would take 0.8 first)
    scores, assignment = matched_correlations(true, learned)
    np.testing.assert_allclose(scores, [0.6, 0.6])
    np.testing.assert_array_equal(assignment, [1, 0])
    assert mcc(true, learned) == pytest.approx(0.6)


def test_fewer_learned_columns_leave_latent_unmatched():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(400, 3))
    learned = np.c_[true[:, 2], 2 * true[:, 0] + 1]
    scores, assignment = matched_correlations(true, learned)
    np.testing.assert_allclose(scores, [1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(assignment, [1, -1, 0])
    assert mcc(true, learned) == pytest.approx(2 / 3)


def test_constant_column_gives_zero_not_nan():
    true = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    learned = np.array([[3.0, 0.0], [3.0, 1.0], [3.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("pearson", "spearman"):
            corr = abs_correlation(true, learned, kind=kind)
            np.testing.assert_allclose(corr, [[0.0, 1.0], [0.0, 0.0]], atol=1e-12)


def test_spearman_differs_from_pearson_by_hand():
    # x = (1, 2, 3), y = (1, 2, 10): Spearman 1; centred x = (-1, 0, 1), centred y = (-10, -7, 17) / 3,
    # so Pearson = 9 / sqrt(2 * 438 / 9) = 27 / sqrt(876)
    x, y = np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [10.0]])
    assert abs_correlation(x, y, kind="spearman")[0, 0] == pytest.approx(1.0)
    assert abs_correlation(x, y)[0, 0] == pytest.approx(27 / np.sqrt(876))
    with pytest.raises(ValueError, match="kind"):
        abs_correlation(x, y, kind="kendall")


# ---------------------------------------------------------------- R²


def test_linear_r2_exact_map_and_independent_noise():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2000, 3))
    mixing = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0], [0.0, 0.3, 2.0]])
    h = z @ mixing + 4.0
    np.testing.assert_allclose(r2_per_latent(z[:1000], h[:1000], z[1000:], h[1000:]), 1.0, atol=1e-9)
    noise = rng.normal(size=(2000, 3))
    r2_noise = r2_per_latent(z[:1000], noise[:1000], z[1000:], noise[1000:])
    assert r2_noise.shape == (3,)
    assert np.all(np.abs(r2_noise) < 0.02)


def test_kernel_r2_beats_linear_on_smooth_nonlinear_map():
    rng = np.random.default_rng(3)
    z = rng.uniform(-2, 2, size=(1300, 2))
    h = np.tanh(1.5 * z) @ np.array([[1.0, 0.5], [-0.5, 1.0]])
    linear = r2_per_latent(z[:800], h[:800], z[800:], h[800:], kind="linear")
    kernel = r2_per_latent(z[:800], h[:800], z[800:], h[800:], kind="kernel", max_fit=400)
    assert np.all(kernel > 0.98)
    assert np.all(linear < 0.95)
    with pytest.raises(ValueError, match="kind"):
        r2_per_latent(z, h, z, h, kind="forest")


# ---------------------------------------------------------------- pairs and patterns


def _pair(a: tuple[int, int], b: tuple[int, int]) -> frozenset:
    return frozenset({a, b})


def test_block_pair_scores_hand_computed():
    # latents 0 and 1 share the signature {0, 1} (one block of two); latent 2 is seen by {0, 2}; latent 3 by {1} only
    pattern = np.array([[1, 1, 1, 0], [1, 1, 0, 1], [0, 0, 1, 0]])
    best = {(0, 0): 1, (0, 1): 0, (0, 2): 2, (1, 0): 0, (1, 1): 0, (1, 2): 3, (2, 0): 2}
    predicted = {
        _pair((0, 0), (1, 0)),  # block {0,1} on both sides although latents 1 vs 0 differ: a hit
        _pair((0, 1), (1, 1)),  # second pair of the 2-latent block: a hit
        _pair((0, 2), (2, 0)),  # latent 2 in modalities 0 and 2: a hit
        _pair((0, 2), (1, 2)),  # latent 2 vs private latent 3: a miss
    }
    scores = block_pair_scores(pattern, predicted, best)
    # true pairs: latents 0, 1 → (0,1) twice; latent 2 → (0,2): 3 in all
    assert scores == {"precision": 3 / 4, "recall": 1.0, "f1": pytest.approx(6 / 7)}
    # a third pair on the same 2-latent block encodes a latent twice: a false positive
    best_duplicate = best | {(0, 2): 0, (1, 2): 1}
    duplicated = {_pair((0, 0), (1, 0)), _pair((0, 1), (1, 1)), _pair((0, 2), (1, 2))}
    assert block_pair_scores(pattern, duplicated, best_duplicate)["precision"] == pytest.approx(2 / 3)


def test_precision_recall_f1_empty_conventions():
    assert precision_recall_f1(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert precision_recall_f1(0, 0, 1) == {"precision": 1.0, "recall": 0.0, "f1": 0.0}
    assert precision_recall_f1(0, 1, 0) == {"precision": 0.0, "recall": 1.0, "f1": 0.0}


def test_shared_pairs_three_modalities():
    latent_of_coordinate = {
        (0, 0): 0,
        (0, 1): 1,
        (0, 2): 1,  # two coordinates of modality 0 on latent 1: never paired with each other
        (1, 0): 0,
        (1, 1): 2,  # latent 2 only in modality 1: no pair
        (2, 0): 0,
        (2, 1): 1,
    }
    expected = {
        _pair((0, 0), (1, 0)),
        _pair((0, 0), (2, 0)),
        _pair((1, 0), (2, 0)),
        _pair((0, 1), (2, 1)),
        _pair((0, 2), (2, 1)),
    }
    assert shared_pairs(latent_of_coordinate) == expected
    assert shared_pairs({(0, 0): 0, (1, 0): 1}) == set()


def test_pattern_matches():
    pattern = np.array([[1, 1, 1, 0], [1, 0, 1, 1]])
    assert pattern_matches(pattern, pattern[:, [3, 0, 2, 1]])
    changed = pattern[:, [3, 0, 2, 1]].copy()
    changed[0, 1] = 0
    assert not pattern_matches(pattern, changed)
    assert not pattern_matches(pattern, pattern[:, :3])
    assert not pattern_matches(pattern, np.c_[pattern, pattern[:, :1]])


# ---------------------------------------------------------------- causal structure (PC + SHD)


def _adjacency(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    adjacency = np.zeros((n, n), dtype=int)
    for i, j in edges:
        adjacency[i, j] = 1
    return adjacency


def _chain_data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z0 = rng.normal(size=n)
    z1 = 0.8 * z0 + rng.normal(size=n)
    z2 = 0.8 * z1 + rng.normal(size=n)
    return np.c_[z0, z1, z2]


def test_pc_recovers_chain_cpdag(capsys):
    # CPDAG of 0 -> 1 -> 2 is the undirected chain 0 - 1 - 2; PC on linear-Gaussian data finds it
    assert dag_to_cpdag_shd(_adjacency(3, [(0, 1), (1, 2)]), _chain_data(5000, 4)) == 0
    # the reversed chain has the same CPDAG
    assert dag_to_cpdag_shd(_adjacency(3, [(2, 1), (1, 0)]), _chain_data(5000, 4)) == 0
    assert capsys.readouterr().out == ""


def test_pc_orients_collider():
    rng = np.random.default_rng(5)
    z0, z1 = rng.normal(size=5000), rng.normal(size=5000)
    z2 = 0.8 * z0 + 0.8 * z1 + rng.normal(size=5000)
    assert dag_to_cpdag_shd(_adjacency(3, [(0, 2), (1, 2)]), np.c_[z0, z1, z2]) == 0


def test_shd_counts_differing_pairs():
    # truth collider 0 -> 2 <- 1 vs estimated chain 0 - 1 - 2: pairs {0,1} (extra), {0,2} (missing),
    # {1,2} (directed vs undirected) all differ
    assert dag_to_cpdag_shd(_adjacency(3, [(0, 2), (1, 2)]), _chain_data(5000, 6)) == 3
    # independent noise: PC finds no edge, both true edges are missing
    noise = np.random.default_rng(7).normal(size=(5000, 3))
    assert dag_to_cpdag_shd(_adjacency(3, [(0, 1), (1, 2)]), noise) == 2
    with pytest.raises(ValueError):
        dag_to_cpdag_shd(_adjacency(3, [(0, 1)]), noise[:, :2])
