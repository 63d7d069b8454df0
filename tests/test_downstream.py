"""The downstream probe and the discrete-factor scores against their definitions."""

import numpy as np

from mmcrl.data import shapes_text
from mmcrl.downstream import downstream_scores, downstream_target
from mmcrl.metrics import classification_accuracy, correlation_ratio

SHAPES_TRUTH = {"kind": "shapes-text", "factors": [{"name": name} for name in shapes_text.FACTOR_NAMES]}


def test_shapes_text_target_is_shape_and_right_half():
    z = np.zeros((3, 8))
    z[:, 0] = [0, 3, 2]
    z[:, 1] = [0.2, 0.7, 0.51]
    assert downstream_target(SHAPES_TRUTH, z, z).tolist() == [0, 7, 5]


def test_synthetic_target_is_the_sign_of_the_standardised_shared_sum():
    truth = {"kind": "synthetic", "sharing_pattern": [[1, 1, 0], [1, 0, 1]]}  # only latent 0 is shared
    reference = np.array([[0.0, 5, 5], [2.0, -5, -5]])  # mean 1, std 1 for latent 0
    z = np.array([[1.5, -100, -100], [0.5, 100, 100]])
    assert downstream_target(truth, z, reference).tolist() == [1, 0]


def test_probe_is_perfect_on_an_informative_representation_and_near_chance_on_noise():
    rng = np.random.default_rng(0)
    z_val, z_test = rng.uniform(size=(1200, 8)), rng.uniform(size=(1000, 8))
    for z in (z_val, z_test):
        z[:, 0] = rng.integers(0, 4, size=len(z))
    one_hot = [np.eye(4)[z[:, 0].astype(int)] for z in (z_val, z_test)]
    informative = [[np.hstack([h, 20 * (z[:, [1]] - 0.5)])] for h, z in zip(one_hot, (z_val, z_test), strict=True)]
    scores = downstream_scores(SHAPES_TRUTH, z_val, z_test, *informative)
    assert scores["downstream_acc_1000"] > 0.97 and scores["downstream_acc_100"] > 0.85
    noise = [[rng.standard_normal((len(z), 5))] for z in (z_val, z_test)]
    assert downstream_scores(SHAPES_TRUTH, z_val, z_test, *noise)["downstream_acc_1000"] < 0.2  # chance 1/8
    assert (
        downstream_scores(SHAPES_TRUTH, z_val[:500], z_test, *[[n[0][:500]] for n in noise[:1]], noise[1])[
            "downstream_acc_1000"
        ]
        is None
    )


def test_correlation_ratio_against_hand_computation():
    labels = np.array([0, 0, 1, 1])
    learned = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 2.0], [5.0, 5.0, 4.0], [7.0, 5.0, 4.0]])
    # column 0: class means 2 and 6 around 4: between = 4·4 = 16, total = 9 + 1 + 1 + 9 = 20; column 1 constant
    assert np.allclose(correlation_ratio(labels, learned), [np.sqrt(16 / 20), 0.0, 1.0])
    assert np.isclose(correlation_ratio(labels, learned[:, :1])[0], abs(np.corrcoef(labels, learned[:, 0])[0, 1]))
    assert np.allclose(correlation_ratio(np.array([2, 2, 7, 7]), learned), correlation_ratio(labels, learned))


def test_classification_accuracy_of_separable_and_single_class_labels():
    h = np.arange(40, dtype=float)[:, None]
    labels = (h[:, 0] >= 20).astype(int)
    assert classification_accuracy(labels[::2], h[::2], labels[1::2], h[1::2]) == 1.0
    assert classification_accuracy(np.zeros(5), h[:5], labels, h) == 0.5
