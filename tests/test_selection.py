"""The label-free information check (mmcrl.selection) on hand-made encodings, and the choice among restarts."""

import numpy as np
import pytest
from test_methods import TRAINING

from mmcrl.config import dataset_spec
from mmcrl.data.synthetic import load_dataset, write_dataset
from mmcrl.selection import INFORMATION_TIE, as_features, chosen_candidate, information_score, predictability
from mmcrl.train import final_loss, fit, restart_seed


@pytest.fixture
def latents():
    return np.random.default_rng(0).uniform(-1.0, 1.0, size=(4000, 2))


def mixed(z):
    """An injective nonlinear mixing of two latents into three observed coordinates."""
    return np.column_stack([np.tanh(z[:, 0] + 0.5 * z[:, 1]), z[:, 1] ** 3 + 0.2 * z[:, 0], z[:, 0] - z[:, 1]])


def test_an_invertible_encoding_determines_its_observation(latents):
    assert predictability(np.column_stack([np.exp(latents[:, 0]), latents[:, 1] ** 3]), mixed(latents)) > 0.98


def test_a_folded_latent_loses_information(latents):
    """u = (|z_0|, z_1) cannot tell z_0 from −z_0; x depends on the sign: R² drops well below the invertible one's."""
    folded = np.column_stack([np.abs(latents[:, 0]), latents[:, 1]])
    assert predictability(folded, mixed(latents)) < 0.8


def test_a_copied_coordinate_loses_the_other_latent(latents):
    """u = (z_0, z_0 + tiny): the second coordinate copies the first, z_1 is lost: about z_0's share of x explained."""
    copy = np.column_stack([latents[:, 0], latents[:, 0] + 1e-3 * latents[:, 1]])
    assert predictability(copy, mixed(latents)) < 0.7


def test_a_constant_encoding_explains_nothing(latents):
    """Every neighbour is as near as any other: the prediction is one constant (a mean of 10 training samples), which
    cannot beat the test mean: R² = −n ‖c − x̄‖² / Σ ‖x − x̄‖² ≤ 0."""
    assert predictability(np.zeros((len(latents), 2)), mixed(latents)) <= 0.0


def test_token_ids_are_scored_as_categories(latents):
    tokens = np.array([[3, 7], [5, 7], [3, 9]])
    expected = [[1, 0, 0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 0, 1]]
    np.testing.assert_array_equal(as_features(tokens, categorical=True), expected)
    # position 0 is the sign of z_0 (R² ≈ 1), position 1 a coin the encoding cannot know: its prediction, the mean of
    # 10 neighbours' coins, adds 1/10 of a coin's variance (R² ≈ −0.1); the two positions weigh alike: (1 − 0.1) / 2
    coin = np.random.default_rng(1).integers(0, 2, len(latents))
    words = np.column_stack([np.where(latents[:, 0] > 0, 11, 12), np.where(coin == 1, 13, 14)])
    assert predictability(latents[:, :1], words, categorical=True) == pytest.approx(0.45, abs=0.03)


def test_the_score_of_a_run_is_its_worst_modality(latents):
    good = np.column_stack([latents[:, 0], latents[:, 1]])
    folded = np.column_stack([np.abs(latents[:, 0]), latents[:, 1]])
    score, per_modality = information_score([good, folded], [mixed(latents), mixed(latents)])
    assert score == per_modality[1] < per_modality[0]


def small_dataset(tmp_path):
    spec = dataset_spec("d", n_latents=3, pattern=[[0, 1], [0, 2]], n_train=2000, n_val=600, n_test=200)
    write_dataset(spec, 0, tmp_path)
    return load_dataset(tmp_path)


def test_the_chosen_candidate_has_the_lowest_loss_among_the_near_best_scores():
    # 0.898 ties with the best 0.900 and has the lower loss; 0.85 has the lowest loss but is not near the best
    assert chosen_candidate([0.900, 0.898, 0.850], [1.0, 0.5, 0.1]) == 1
    assert chosen_candidate([0.900, 0.898, 0.850], [0.4, 0.5, 0.1]) == 0
    assert chosen_candidate([0.900, 0.900 - 2 * INFORMATION_TIE], [1.0, 0.1]) == 0  # beyond the tie: the score decides
    assert chosen_candidate([0.7], [3.0]) == 0


def test_restarts_keep_the_chosen_candidate(tmp_path):
    data = small_dataset(tmp_path)
    training = TRAINING | {"steps": 30, "restarts": 3}
    model, record = fit(data, "wcrl", {}, training, seed=0, run_name="test")
    choice = record["restarts"]
    assert len(choice["scores"]) == 3
    assert choice["chosen"] == chosen_candidate(choice["scores"], choice["final_losses"])
    assert record["final_loss"] == pytest.approx(choice["final_losses"][choice["chosen"]])
    assert final_loss([5.0] * 10 + [1.0] * 50) == 1.0  # the last 50 steps
    assert choice["scores"][choice["chosen"]] == min(choice["per_modality"][choice["chosen"]])
    # the model returned is the chosen candidate: candidate 0 is the plain run, the others start from restart_seed
    seed = 0 if choice["chosen"] == 0 else restart_seed(0, choice["chosen"])
    alone, _ = fit(data, "wcrl", {}, training | {"restarts": 1}, seed=seed, run_name="test")
    expected = alone.state_dict()
    for name, value in model.state_dict().items():
        if isinstance(value, dict):  # the structure module's host state (get_extra_state)
            for key, part in value.items():
                np.testing.assert_array_equal(part, expected[name][key], err_msg=f"{name}.{key}")
        else:
            np.testing.assert_array_equal(value.numpy(), expected[name].numpy(), err_msg=name)


def test_restarts_apply_only_to_a_method_that_searches_the_pattern(tmp_path):
    data = small_dataset(tmp_path)
    training = TRAINING | {"steps": 20, "restarts": 3}
    once, record = fit(data, "oracle", {}, training, seed=0, run_name="test")
    plain, _ = fit(data, "oracle", {}, training | {"restarts": 1}, seed=0, run_name="test")
    assert "restarts" not in record
    for name, value in once.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), plain.state_dict()[name].numpy(), err_msg=name)
