"""The downstream task: a linear probe on few labels, predicting a target that depends on the shared factors.

Representation: the concatenated encodings [f_0(x_0), ..., f_{M−1}(x_{M−1})] of all modalities (the multimodal
representation a method learns). Probe: multinomial logistic regression (:func:`mmcrl.metrics.classification_accuracy`)
fit on the first n validation samples (n ∈ :data:`LABEL_BUDGETS`), scored on the whole test split; ``None`` when the
validation split has fewer than n samples.

Targets (:func:`downstream_target`):

- ``shapes-text``: y = 2 · shape + 1[x > ½] (8 classes: the shape and whether the object is in the right half);
- synthetic: y = 1[Σ_{j shared} (z_j − μ_j) / σ_j > 0], the sign of the sum of the standardised shared latents
  (seen by ≥ 2 modalities), with μ_j, σ_j the validation split's mean and std (2 classes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmcrl.metrics import classification_accuracy

LABEL_BUDGETS = (100, 1000)


def downstream_target(ground_truth: dict[str, Any], z: np.ndarray, z_reference: np.ndarray) -> np.ndarray:
    """Integer labels of the downstream target for the rows of z (``z_reference``: the validation latents)."""
    if ground_truth["kind"] == "shapes-text":
        names = [factor["name"] for factor in ground_truth["factors"]]
        return (2 * z[:, names.index("shape")] + (z[:, names.index("x")] > 0.5)).astype(np.int64)
    shared = np.flatnonzero(np.asarray(ground_truth["sharing_pattern"]).sum(axis=0) >= 2)
    mean, std = z_reference[:, shared].mean(axis=0), z_reference[:, shared].std(axis=0)
    return (((z[:, shared] - mean) / std).sum(axis=1) > 0).astype(np.int64)


def downstream_scores(
    ground_truth: dict[str, Any],
    z_val: np.ndarray,
    z_test: np.ndarray,
    val_encodings: list[np.ndarray],
    test_encodings: list[np.ndarray],
) -> dict[str, float | None]:
    """``downstream_acc_<n>`` for every n of LABEL_BUDGETS: the probe's test accuracy after n labelled samples."""
    features_val, features_test = np.hstack(val_encodings), np.hstack(test_encodings)
    labels_val = downstream_target(ground_truth, z_val, z_val)
    labels_test = downstream_target(ground_truth, z_test, z_val)
    scores: dict[str, float | None] = {}
    for n in LABEL_BUDGETS:
        fits = len(labels_val) >= n
        scores[f"downstream_acc_{n}"] = (
            classification_accuracy(labels_val[:n], features_val[:n], labels_test, features_test) if fits else None
        )
    return scores
