"""Evaluation: encode the test split and score identifiability, information, structure and causal discovery.

Per modality m, the k_m learned coordinates h_m are matched to the true latents z_{S_m} it sees by the Hungarian
algorithm on |corr| (Pearson and, separately, Spearman). A latent's score is the mean of its matched correlation over
the modalities that see it. Latents are grouped by identifiability class of the true pattern (identifiable / block /
private, :func:`mmcrl.metrics.identifiability_classes`); a class with no latent scores ``None``.
R² of each latent is predicted from all coordinates of each modality that sees it (fit on validation data, scored
on test data), averaged over those modalities. Structure is scored against the coordinate → latent map of the
Pearson matching. SHD compares the CPDAG found by PC on the best-matched coordinates with the true DAG's CPDAG; the
same PC run on the true latents (``shd_true_latents``) is the reference for what PC can do on this data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmcrl import metrics
from mmcrl.data.synthetic import Dataset
from mmcrl.methods.base import Method
from mmcrl.train import encode

CLASSES = ("identifiable", "block", "private")


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def per_latent_scores(
    pattern: np.ndarray,
    z_val: np.ndarray,
    z_test: np.ndarray,
    val_encodings: list[np.ndarray],
    test_encodings: list[np.ndarray],
    kernel_max_fit: int,
) -> tuple[list[dict[str, Any]], dict[tuple[int, int], int]]:
    """One record per latent (class, signature, matched correlations, R²) and the true coordinate → latent map."""
    classes = metrics.identifiability_classes(pattern)
    scores: dict[str, dict[int, dict[int, float]]] = {
        key: {j: {} for j in range(pattern.shape[1])} for key in ("pearson", "spearman", "r2_linear", "r2_kernel")
    }
    latent_of_coordinate: dict[tuple[int, int], int] = {}
    for m, (h_val, h_test) in enumerate(zip(val_encodings, test_encodings, strict=True)):
        subset = np.flatnonzero(pattern[m])
        for kind in ("pearson", "spearman"):
            matched, assignment = metrics.matched_correlations(z_test[:, subset], h_test, kind)
            for position, latent in enumerate(subset):
                scores[kind][latent][m] = float(matched[position])
                if kind == "pearson" and assignment[position] >= 0:
                    latent_of_coordinate[(m, int(assignment[position]))] = int(latent)
        for kind in ("linear", "kernel"):
            r2 = metrics.r2_per_latent(
                z_val[:, subset], h_val, z_test[:, subset], h_test, kind=kind, max_fit=kernel_max_fit
            )
            for position, latent in enumerate(subset):
                scores[f"r2_{kind}"][latent][m] = float(r2[position])
    records = []
    for j, latent_class in enumerate(classes):
        records.append(
            {
                "latent": j,
                "class": latent_class,
                "signature": np.flatnonzero(pattern[:, j]).tolist(),
                "mcc_by_modality": scores["pearson"][j],
                "mcc": float(np.mean(list(scores["pearson"][j].values()))),
                "mcc_spearman": float(np.mean(list(scores["spearman"][j].values()))),
                "r2_linear": float(np.mean(list(scores["r2_linear"][j].values()))),
                "r2_kernel": float(np.mean(list(scores["r2_kernel"][j].values()))),
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
    latents, true_map = per_latent_scores(pattern, z_val, z_test, val_encodings, test_encodings, kernel_max_fit)
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
    summary: dict[str, Any] = {
        "mcc": float(np.mean([r["mcc"] for r in latents])),
        "mcc_spearman": float(np.mean([r["mcc_spearman"] for r in latents])),
        "r2_linear": float(np.mean([r["r2_linear"] for r in latents])),
        "r2_kernel": float(np.mean([r["r2_kernel"] for r in latents])),
        "r2_shared": _mean_or_none([r["r2_kernel"] for r in latents if len(r["signature"]) >= 2]),
        "structure_precision": structure_scores["precision"],
        "structure_recall": structure_scores["recall"],
        "structure_f1": structure_scores["f1"],
        "structure_exact": bool(metrics.pattern_matches(pattern, np.asarray(structure["recovered_pattern"]))),
        "structure_conflicts": len(structure["conflicts"]),
        "shd": metrics.dag_to_cpdag_shd(adjacency, z_estimate, pc_alpha),
        "shd_true_latents": metrics.dag_to_cpdag_shd(adjacency, z_test.astype(np.float64), pc_alpha),
    }
    for latent_class in CLASSES:
        summary[f"mcc_{latent_class}"] = _mean_or_none([r["mcc"] for r in latents if r["class"] == latent_class])
    return {"summary": summary, "latents": latents}


def evaluate_model(
    dataset: Dataset,
    model: Method,
    record: dict[str, Any],
    structure: dict[str, Any],
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """:func:`evaluate` on the model's encodings of the validation and test splits, plus what the method was told,
    its training time and the true and recovered patterns (the record ``metrics.json`` holds)."""
    val = encode(model, dataset.split("val")[1])
    test = encode(model, dataset.split("test")[1])
    result = evaluate(dataset, val, test, structure, evaluation["kernel_max_fit"], evaluation["pc_alpha"])
    result["summary"]["train_seconds"] = record["train_seconds"]
    return {
        "told": type(model).told,
        "told_pattern": type(model).told_pattern,
        **result,
        "patterns": {"true": dataset.ground_truth["sharing_pattern"], "recovered": structure["recovered_pattern"]},
    }
