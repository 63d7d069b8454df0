"""Evaluation: score a run's held-out encodings for identifiability, information, structure and causal discovery.

Per modality m, the k_m learned coordinates h_m are matched to the true latents z_{S_m} it sees by the Hungarian
algorithm on |corr| (Pearson and, separately, Spearman). A latent's score is the mean of its matched correlation over
the modalities that see it. Latents are grouped by identifiability class of the true pattern (identifiable / block /
private, :func:`mmcrl.metrics.identifiability_classes`); a class with no latent scores ``None``.
R² of each latent is predicted from all coordinates of each modality that sees it (fit on validation data, scored
on test data), averaged over those modalities. Structure is scored against the coordinate → latent map of the
Pearson matching. SHD compares the CPDAG found by PC on the best-matched coordinates with the true DAG's CPDAG; the
same PC run on the true latents (``shd_true_latents``) is the reference for what PC can do on this data.
Discrete factors (datasets whose ground truth lists ``factors``, e.g. shapes-text) are matched on the correlation
ratio, scored by logistic-regression accuracy instead of MCC and R² (``accuracy``, ``accuracy_shared``), and left out
of the MCC and R² means. The downstream probe (:mod:`mmcrl.downstream`) adds ``downstream_acc_100`` and
``downstream_acc_1000``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from mmcrl import metrics
from mmcrl.data.synthetic import Dataset
from mmcrl.downstream import downstream_scores

CLASSES = ("identifiable", "block", "private")


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def factor_types(ground_truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Name and type of every latent: the dataset's ``factors`` records, or (synthetic data) continuous ``z<j>``."""
    if "factors" in ground_truth:
        return ground_truth["factors"]
    return [{"name": f"z{j}", "type": "continuous"} for j in range(ground_truth["n_latents"])]


def per_latent_scores(
    pattern: np.ndarray,
    z_val: np.ndarray,
    z_test: np.ndarray,
    val_encodings: list[np.ndarray],
    test_encodings: list[np.ndarray],
    kernel_max_fit: int,
    factors: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[tuple[int, int], int]]:
    """One record per latent (class, signature, matched association, R² or accuracy) and the true coordinate →
    latent map.

    Continuous latents are matched on |corr| and scored by R²; a discrete latent (``factors[j]["type"] ==
    "discrete"``) is matched on the correlation ratio η (it takes part in the matching, so the coordinate → latent
    map and the structure scores include it) and scored by the accuracy of a logistic regression from each modality's
    coordinates; its ``mcc`` is ``None`` (a correlation with class indices means nothing).
    """
    factors = factors or [{"name": f"z{j}", "type": "continuous"} for j in range(pattern.shape[1])]
    discrete = np.array([factor["type"] == "discrete" for factor in factors])
    classes = metrics.identifiability_classes(pattern)
    scores: dict[str, dict[int, dict[int, float]]] = {
        key: {j: {} for j in range(pattern.shape[1])}
        for key in ("pearson", "spearman", "r2_linear", "r2_kernel", "accuracy")
    }
    latent_of_coordinate: dict[tuple[int, int], int] = {}
    for m, (h_val, h_test) in enumerate(zip(val_encodings, test_encodings, strict=True)):
        subset = np.flatnonzero(pattern[m])
        for kind in ("pearson", "spearman"):
            association = metrics.abs_correlation(z_test[:, subset], h_test, kind)
            ranked = rankdata(h_test, axis=0) if kind == "spearman" else h_test
            for position in np.flatnonzero(discrete[subset]):
                association[position] = metrics.correlation_ratio(z_test[:, subset[position]], ranked)
            matched, assignment = metrics.match_association(association)
            for position, latent in enumerate(subset):
                scores[kind][latent][m] = float(matched[position])
                if kind == "pearson" and assignment[position] >= 0:
                    latent_of_coordinate[(m, int(assignment[position]))] = int(latent)
        continuous = subset[~discrete[subset]]
        for kind in ("linear", "kernel"):
            if continuous.size:
                r2 = metrics.r2_per_latent(
                    z_val[:, continuous], h_val, z_test[:, continuous], h_test, kind=kind, max_fit=kernel_max_fit
                )
                for position, latent in enumerate(continuous):
                    scores[f"r2_{kind}"][latent][m] = float(r2[position])
        for latent in subset[discrete[subset]]:
            scores["accuracy"][latent][m] = metrics.classification_accuracy(
                z_val[:, latent], h_val, z_test[:, latent], h_test
            )
    records = []
    for j, latent_class in enumerate(classes):
        records.append(
            {
                "latent": j,
                "factor": factors[j]["name"],
                "factor_type": factors[j]["type"],
                "class": latent_class,
                "signature": np.flatnonzero(pattern[:, j]).tolist(),
                "mcc_by_modality": scores["pearson"][j],
                "mcc": None if discrete[j] else float(np.mean(list(scores["pearson"][j].values()))),
                "mcc_spearman": None if discrete[j] else float(np.mean(list(scores["spearman"][j].values()))),
                "r2_linear": _mean_or_none(list(scores["r2_linear"][j].values())),
                "r2_kernel": _mean_or_none(list(scores["r2_kernel"][j].values())),
                "accuracy": _mean_or_none(list(scores["accuracy"][j].values())),
            }
        )
    return records, latent_of_coordinate


def most_correlated_latents(
    pattern: np.ndarray, z_test: np.ndarray, test_encodings: list[np.ndarray]
) -> dict[tuple[int, int], int]:
    """For every learned coordinate (m, i), the latent j ∈ S_m with the largest |corr(z_j, h_mi)| on the test split."""
    best = {}
    for m, h in enumerate(test_encodings):
        subset = np.flatnonzero(pattern[m])
        correlation = metrics.abs_correlation(z_test[:, subset], h)
        for i, position in enumerate(correlation.argmax(axis=0)):
            best[(m, i)] = int(subset[position])
    return best


def best_matched_latents(
    latents: list[dict[str, Any]], latent_of_coordinate: dict[tuple[int, int], int], test_encodings: list[np.ndarray]
) -> np.ndarray:
    """ẑ (n × N): for each latent, its Pearson-matched coordinate in the modality where that match is strongest
    (the first such modality on ties), from the matching :func:`per_latent_scores` already made."""
    coordinate_of = {(m, latent): i for (m, i), latent in latent_of_coordinate.items()}
    estimate = np.zeros((test_encodings[0].shape[0], len(latents)))
    for record in latents:
        matched = {m: score for m, score in record["mcc_by_modality"].items() if (m, record["latent"]) in coordinate_of}
        if matched:
            m = max(matched, key=matched.get)
            estimate[:, record["latent"]] = test_encodings[m][:, coordinate_of[(m, record["latent"])]]
    return estimate


def evaluate(
    dataset: Dataset,
    val_encodings: list[np.ndarray],
    test_encodings: list[np.ndarray],
    structure: dict[str, Any],
    kernel_max_fit: int,
    pc_alpha: float,
) -> dict[str, Any]:
    """Every metric of one run: a flat ``summary`` (one value per metric) and the per-latent ``latents`` records."""
    pattern = dataset.sharing_pattern
    z_val, _ = dataset.split("val")
    z_test, _ = dataset.split("test")
    factors = factor_types(dataset.ground_truth)
    latents, true_map = per_latent_scores(
        pattern, z_val, z_test, val_encodings, test_encodings, kernel_max_fit, factors
    )
    recovered_map = {
        (m, i): latent
        for m, row in enumerate(structure["latent_of_coordinate"])
        for i, latent in enumerate(row)
        if latent >= 0
    }
    structure_scores = metrics.block_pair_scores(
        pattern, metrics.shared_pairs(recovered_map), most_correlated_latents(pattern, z_test, test_encodings)
    )
    adjacency = np.asarray(dataset.ground_truth["adjacency"])
    z_estimate = best_matched_latents(latents, true_map, test_encodings)
    continuous = [r for r in latents if r["factor_type"] == "continuous"]
    discrete = [r for r in latents if r["factor_type"] == "discrete"]
    summary: dict[str, Any] = {
        "mcc": _mean_or_none([r["mcc"] for r in continuous]),
        "mcc_spearman": _mean_or_none([r["mcc_spearman"] for r in continuous]),
        "r2_linear": _mean_or_none([r["r2_linear"] for r in continuous]),
        "r2_kernel": _mean_or_none([r["r2_kernel"] for r in continuous]),
        "r2_shared": _mean_or_none([r["r2_kernel"] for r in continuous if len(r["signature"]) >= 2]),
        "accuracy": _mean_or_none([r["accuracy"] for r in discrete]),
        "accuracy_shared": _mean_or_none([r["accuracy"] for r in discrete if len(r["signature"]) >= 2]),
        "structure_precision": structure_scores["precision"],
        "structure_recall": structure_scores["recall"],
        "structure_f1": structure_scores["f1"],
        "structure_exact": bool(metrics.pattern_matches(pattern, np.asarray(structure["recovered_pattern"]))),
        "structure_conflicts": len(structure["conflicts"]),
        "shd": metrics.dag_to_cpdag_shd(adjacency, z_estimate, pc_alpha),
        "shd_true_latents": metrics.dag_to_cpdag_shd(adjacency, z_test.astype(np.float64), pc_alpha),
    }
    for latent_class in CLASSES:
        summary[f"mcc_{latent_class}"] = _mean_or_none([r["mcc"] for r in continuous if r["class"] == latent_class])
    summary |= downstream_scores(dataset.ground_truth, z_val, z_test, val_encodings, test_encodings)
    return {"summary": summary, "latents": latents}


def evaluate_run(
    dataset: Dataset,
    encodings: dict[str, list[np.ndarray]],
    info: dict[str, Any],
    structure: dict[str, Any],
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """:func:`evaluate` on a run's encodings of the validation and test splits, plus what the method was told, its
    training time (``info``, from :mod:`mmcrl.encodings`) and the true and recovered patterns (what
    ``metrics.json`` holds for each seed)."""
    result = evaluate(
        dataset, encodings["val"], encodings["test"], structure, evaluation["kernel_max_fit"], evaluation["pc_alpha"]
    )
    result["summary"]["train_seconds"] = info["train_seconds"]
    return {
        "told": info["told"],
        "told_pattern": info["told_pattern"],
        **result,
        "patterns": {"true": dataset.ground_truth["sharing_pattern"], "recovered": structure["recovered_pattern"]},
    }
