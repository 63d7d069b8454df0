"""The synthetic generator against its definition (DESIGN §1)."""

import numpy as np
import pytest

from mmcrl.config import dataset_spec
from mmcrl.data.mixing import apply_mixing, random_mixing, well_conditioned_matrix
from mmcrl.data.patterns import pattern_from_subsets, random_pattern, subsets_from_pattern
from mmcrl.data.scm import NOISE_FAMILIES, random_dag, sample_latents, sample_noise
from mmcrl.data.synthetic import SyntheticSpec, generate, load_dataset, write_dataset
from mmcrl.metrics import identifiability_classes


def spec(**overrides) -> SyntheticSpec:
    fields = {
        "n_latents": 6,
        "pattern": [[0, 2, 3], [0, 1, 2, 4], [1, 2, 5]],
        "dag": {"edge_probability": 0.5},
        "mixing": {"candidates": 50},
        "n_train": 600,
        "n_val": 200,
        "n_test": 200,
    }
    return dataset_spec("test", **(fields | overrides))


def test_pattern_from_subsets_builds_the_matrix_and_refuses_unseen_latents():
    pattern = pattern_from_subsets([[0, 1], [1, 2]], 3)
    assert pattern.tolist() == [[1, 1, 0], [0, 1, 1]]
    assert subsets_from_pattern(pattern) == [[0, 1], [1, 2]]
    with pytest.raises(ValueError, match=r"\[3\] are seen by no modality"):
        pattern_from_subsets([[0, 1], [1, 2]], 4)
    with pytest.raises(ValueError, match="outside"):
        pattern_from_subsets([[0, 5]], 3)


@pytest.mark.parametrize("seed", range(5))
def test_random_pattern_meets_its_constraints(seed):
    pattern = random_pattern(8, 5, 5, unique_signatures=True, rng=np.random.default_rng(seed))
    seen_by = pattern.sum(axis=0)
    assert pattern.shape == (5, 8)
    assert (seen_by >= 1).all() and (pattern.sum(axis=1) >= 1).all()
    assert (seen_by >= 2).sum() == 5
    shared_signatures = [tuple(pattern[:, j]) for j in range(8) if seen_by[j] >= 2]
    assert len(set(shared_signatures)) == 5
    assert identifiability_classes(pattern).count("identifiable") == 5


def test_noise_families_are_centred_with_unit_variance():
    rng = np.random.default_rng(0)
    for family in NOISE_FAMILIES:
        draws = sample_noise(family, 200_000, rng)
        assert abs(draws.mean()) < 0.01, family
        assert abs(draws.std() - 1.0) < 0.01, family
    with pytest.raises(ValueError, match="unknown noise family"):
        sample_noise("cauchy", 10, rng)


def test_dag_follows_its_topological_order():
    adjacency, order = random_dag(8, 0.5, np.random.default_rng(1))
    position = {node: index for index, node in enumerate(order)}
    for parent, child in zip(*np.nonzero(adjacency), strict=True):
        assert position[parent] < position[child]
    assert adjacency.sum() > 0
    assert np.trace(adjacency) == 0


def test_latents_are_standardised_and_children_depend_on_parents():
    adjacency = np.zeros((3, 3), dtype=int)
    adjacency[0, 1] = 1  # 0 → 1; 2 is isolated
    latents = sample_latents(
        adjacency, [0, 1, 2], ["uniform"] * 3, 0.8, 20_000, np.random.default_rng(0), np.random.default_rng(1)
    )
    np.testing.assert_allclose(latents.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(latents.std(axis=0), 1.0, atol=1e-9)
    # the child is (nonlinearly) explained by its parent: binned conditional means vary a lot
    bins = np.digitize(latents[:, 0], np.quantile(latents[:, 0], np.linspace(0, 1, 11)[1:-1]))
    conditional_means = np.array([latents[bins == b, 1].mean() for b in range(10)])
    assert conditional_means.var() > 0.3
    assert abs(np.corrcoef(latents[:, 0], latents[:, 2])[0, 1]) < 0.03


def test_mixing_is_injective_and_well_conditioned():
    rng = np.random.default_rng(0)
    weights = random_mixing(3, 6, 3, 200, rng)
    assert [w.shape for w in weights] == [(6, 3), (6, 6), (6, 6)]
    random_draw = rng.uniform(-1, 1, (6, 3))
    random_draw /= np.linalg.norm(random_draw, axis=0)
    assert np.linalg.cond(weights[0]) <= np.linalg.cond(well_conditioned_matrix(6, 3, 1, rng))
    # the Jacobian at any point is diag-scaled products of full-rank matrices: full column rank
    for point in rng.standard_normal((20, 3)):
        hidden, jacobian = weights[0] @ point, weights[0]
        for weight in weights[1:]:
            slope = np.where(hidden > 0, 1.0, 0.2)
            jacobian = weight @ (slope[:, None] * jacobian)
            hidden = weight @ np.where(hidden > 0, hidden, 0.2 * hidden)
        assert np.linalg.matrix_rank(jacobian) == 3
        np.testing.assert_allclose(hidden, apply_mixing(weights, point[None, :], 0.2)[0])
    with pytest.raises(ValueError, match="must exceed"):
        random_mixing(3, 3, 3, 10, rng)


def test_each_modality_is_the_recorded_mixing_of_exactly_its_subset():
    splits, truth = generate(spec(), seed=3)
    z = np.concatenate([splits[s]["z"] for s in ("train", "val", "test")]).astype(np.float64)
    mixing_rng = np.random.default_rng(truth["derived_seeds"]["mixing"])
    for m, (subset, dim) in enumerate(zip(truth["subsets"], truth["observed_dims"], strict=True)):
        assert dim > len(subset)
        weights = random_mixing(len(subset), dim, 3, 50, mixing_rng)
        expected = apply_mixing(weights, z[:, subset], 0.2)
        expected = (expected - expected.mean(axis=0)) / expected.std(axis=0)
        observed = np.concatenate([splits[s][f"x{m}"] for s in ("train", "val", "test")])
        np.testing.assert_allclose(observed, expected, atol=1e-4)
    assert truth["observed_dims"] == [6, 8, 6]
    assert all(max(c) < 20 for c in truth["mixing"]["condition_numbers"])


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    write_dataset(spec(), 0, tmp_path / "a")
    write_dataset(spec(), 0, tmp_path / "b")
    write_dataset(spec(), 1, tmp_path / "c")
    for name in ("train.npz", "val.npz", "test.npz", "ground_truth.json", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "train.npz").read_bytes() != (tmp_path / "c" / "train.npz").read_bytes()
    dataset = load_dataset(tmp_path / "a")
    z, xs = dataset.split("val")
    assert z.shape == (200, 6) and [x.shape[1] for x in xs] == [6, 8, 6]


def test_a_tampered_file_is_refused_with_its_name(tmp_path):
    write_dataset(spec(), 0, tmp_path)
    (tmp_path / "val.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="val.npz: content differs from its manifest hash"):
        load_dataset(tmp_path)


def test_spec_checks_undercompleteness_and_random_pattern_is_fixed_across_replicates():
    with pytest.raises(ValueError, match="must exceed its 4 latents"):
        spec(
            mixing={
                "layers": 3,
                "undercomplete_ratio": 2.0,
                "negative_slope": 0.2,
                "candidates": 5,
                "observed_dims": [6, 4, 6],
            }
        ).check()
    drawn = spec(n_latents=8, pattern={"n_modalities": 5, "n_shared": 5, "unique_signatures": True, "seed": 7})
    _, first = generate(drawn, seed=0)
    _, second = generate(drawn, seed=1)
    assert first["sharing_pattern"] == second["sharing_pattern"]
    assert first["adjacency"] != second["adjacency"] or first["derived_seeds"] != second["derived_seeds"]
