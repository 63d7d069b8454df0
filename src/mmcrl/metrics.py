"""Identifiability, alignment and causal-structure metrics.

Notation: true latents z ∈ R^N, M modalities, binary sharing pattern A ∈ {0, 1}^{M×N} with A[m, j] = 1 iff
modality m sees latent j. The signature of latent j is S(j) = {m : A[m, j] = 1}. Learned encoders produce coordinates
h; a coordinate is addressed as (modality, index).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable

import numpy as np
import scipy.linalg
from causallearn.graph.Dag import Dag
from causallearn.graph.GraphNode import GraphNode
from causallearn.graph.SHD import SHD
from causallearn.search.ConstraintBased.PC import pc
from causallearn.utils.DAG2CPDAG import dag2cpdag
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import KFold

KERNEL_ALPHAS = (1.0, 0.1, 0.01, 0.001)
KERNEL_GAMMAS = tuple(np.logspace(-2, 2, 4))


def latent_signatures(sharing_pattern: np.ndarray) -> list[frozenset[int]]:
    """Signature S(j) = {m : A[m, j] = 1} of every latent j (the set of modalities that see it)."""
    pattern = np.asarray(sharing_pattern)
    if pattern.ndim != 2:
        raise ValueError(f"sharing pattern must be a 2-D (M, N) array, got shape {pattern.shape}")
    return [frozenset(int(m) for m in np.flatnonzero(pattern[:, j])) for j in range(pattern.shape[1])]


def identifiability_classes(sharing_pattern: np.ndarray) -> list[str]:
    """Identifiability class of every latent j, from its signature S(j).

    - "identifiable": |S(j)| >= 2 and no other latent has signature S(j): recoverable component-wise (up to an
      invertible elementwise map) by cross-modal alignment.
    - "block": |S(j)| >= 2 but another latent has the same signature: only the block of latents with that
      signature is identifiable (up to an invertible map of the block).
    - "private": |S(j)| = 1: seen by a single modality.

    Raises ValueError if a latent is seen by no modality (|S(j)| = 0).
    """
    signatures = latent_signatures(sharing_pattern)
    counts = Counter(signatures)
    classes = []
    for j, signature in enumerate(signatures):
        if not signature:
            raise ValueError(f"latent {j} is seen by no modality")
        if len(signature) == 1:
            classes.append("private")
        elif counts[signature] == 1:
            classes.append("identifiable")
        else:
            classes.append("block")
    return classes


def standardise(x: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit (population) standard deviation; constant columns become 0."""
    centred = x - x.mean(axis=0)
    std = centred.std(axis=0)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def location_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of x, with a standard deviation of 1 for constant columns."""
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)


def abs_correlation(true: np.ndarray, learned: np.ndarray, kind: str = "pearson") -> np.ndarray:
    """Absolute correlation matrix C ∈ [0, 1]^{a×b}, C[i, k] = |corr(true[:, i], learned[:, k])|.

    kind="pearson": Pearson correlation; kind="spearman": Pearson correlation of the column-wise ranks
    (scipy.stats.rankdata, ties averaged). A constant column has correlation 0 with everything. Entries are clipped
    to at most 1 to remove floating-point excess.
    """
    true = np.asarray(true, dtype=float)
    learned = np.asarray(learned, dtype=float)
    if true.ndim != 2 or learned.ndim != 2 or true.shape[0] != learned.shape[0]:
        raise ValueError(f"need 2-D arrays with the same number of rows, got {true.shape} and {learned.shape}")
    if kind == "spearman":
        true = rankdata(true, axis=0)
        learned = rankdata(learned, axis=0)
    elif kind != "pearson":
        raise ValueError(f"unknown correlation kind {kind!r}; expected 'pearson' or 'spearman'")
    corr = standardise(true).T @ standardise(learned) / true.shape[0]
    return np.minimum(np.abs(corr), 1.0)


def matched_correlations(true: np.ndarray, learned: np.ndarray, kind: str = "pearson") -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of true to learned columns maximising the total absolute correlation.

    Solves max_π Σ_i C[i, π(i)] over injective partial maps π (Hungarian algorithm, scipy's linear_sum_assignment on
    C = abs_correlation(true, learned, kind)); with b < a learned columns, a - b true latents stay unmatched.

    Returns (scores, assignment), both of length a: scores[i] = C[i, π(i)] (0.0 if latent i is unmatched) and
    assignment[i] = π(i) (-1 if unmatched).
    """
    return match_association(abs_correlation(true, learned, kind))


def match_association(association: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Hungarian matching of :func:`matched_correlations` on a given a × b association matrix C ∈ [0, 1]:
    (scores, assignment) with scores[i] = C[i, π(i)] (0.0 if row i is unmatched), assignment[i] = π(i) (or -1)."""
    rows, cols = linear_sum_assignment(association, maximize=True)
    scores = np.zeros(association.shape[0])
    assignment = np.full(association.shape[0], -1, dtype=int)
    scores[rows] = association[rows, cols]
    assignment[rows] = cols
    return scores, assignment


def correlation_ratio(labels: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """Correlation ratio η_k ∈ [0, 1] of a discrete factor with each learned column k:

    η_k² = Σ_c n_c (h̄_ck − h̄_k)² / Σ_i (h_ik − h̄_k)², the share of column k's variance explained by the class c
    (the R² of predicting h_k from the one-hot class); for two classes η = |Pearson|. Invariant to relabelling the
    classes, so it is the association used to match a discrete factor to a coordinate. Constant columns give 0.
    """
    labels, learned = np.asarray(labels), np.asarray(learned, dtype=float)
    centred = learned - learned.mean(axis=0)
    between = np.zeros(learned.shape[1])
    for label in np.unique(labels):
        rows = centred[labels == label]
        between += rows.shape[0] * rows.mean(axis=0) ** 2
    total = (centred**2).sum(axis=0)
    ratio = np.divide(between, total, out=np.zeros_like(total), where=total > 0)
    return np.sqrt(np.minimum(ratio, 1.0))


def classification_accuracy(
    labels_fit: np.ndarray, h_fit: np.ndarray, labels_score: np.ndarray, h_score: np.ndarray
) -> float:
    """Accuracy of a multinomial logistic regression (L2, C = 1, lbfgs) predicting class labels from coordinates h,
    fit on the fit rows and scored on the score rows; h is standardised with the fit rows' mean and std. With a
    single class among the fit rows, that class is predicted everywhere."""
    labels_fit, labels_score = np.asarray(labels_fit), np.asarray(labels_score)
    classes = np.unique(labels_fit)
    if classes.size == 1:
        return float(np.mean(labels_score == classes[0]))
    mean, std = location_scale(np.asarray(h_fit, dtype=float))
    model = LogisticRegression(max_iter=2000).fit((h_fit - mean) / std, labels_fit)
    return float(np.mean(model.predict((np.asarray(h_score, dtype=float) - mean) / std) == labels_score))


def mcc(true: np.ndarray, learned: np.ndarray, kind: str = "pearson") -> float:
    """Mean correlation coefficient: (1/a) Σ_i C[i, π(i)] with π the Hungarian matching of matched_correlations.

    This is the MCC of Hyvärinen & Morioka and Zimmermann et al. (2021); unmatched true latents count as 0.
    """
    scores, _ = matched_correlations(true, learned, kind)
    return float(scores.mean())


def r2_per_latent(
    z_fit: np.ndarray,
    h_fit: np.ndarray,
    z_score: np.ndarray,
    h_score: np.ndarray,
    kind: str = "linear",
    max_fit: int = 1000,
) -> np.ndarray:
    """R² of predicting every true latent z_j from the learned coordinates h.

    A regressor ĝ: h ↦ z is fit on the fit split and scored on the score split, per latent:
    R²_j = 1 - Σ (z_j - ĝ_j(h))² / Σ (z_j - mean z_j)² (sklearn r2_score, raw values; can be negative).
    Both h and z are standardised with the mean and standard deviation of the fit rows (R² is invariant to the
    scaling of z). kind="linear": ordinary least squares on the whole fit split. kind="kernel": RBF kernel ridge
    regression, one model for all latents, with alpha ∈ {1, 0.1, 0.01, 0.001} and gamma ∈ logspace(-2, 2, 4)
    chosen by 3-fold GridSearchCV (Daunhawer et al., 2023), fit on the first max_fit rows of the fit split.
    """
    z_fit, h_fit = np.asarray(z_fit, dtype=float), np.asarray(h_fit, dtype=float)
    z_score, h_score = np.asarray(z_score, dtype=float), np.asarray(h_score, dtype=float)
    if kind == "linear":
        model = LinearRegression()
    elif kind == "kernel":
        z_fit, h_fit = z_fit[:max_fit], h_fit[:max_fit]
    else:
        raise ValueError(f"unknown regression kind {kind!r}; expected 'linear' or 'kernel'")

    z_mean, z_std = location_scale(z_fit)
    h_mean, h_std = location_scale(h_fit)
    inputs, targets = (h_fit - h_mean) / h_std, (z_fit - z_mean) / z_std
    if kind == "kernel":
        model = kernel_ridge_grid_search(inputs, targets, KERNEL_ALPHAS, KERNEL_GAMMAS)
    model.fit(inputs, targets)
    prediction = model.predict((h_score - h_mean) / h_std).reshape(len(z_score), -1)
    return np.asarray(r2_score((z_score - z_mean) / z_std, prediction, multioutput="raw_values"))


def kernel_ridge_grid_search(
    inputs: np.ndarray, targets: np.ndarray, alphas: tuple[float, ...], gammas: tuple[float, ...], folds: int = 3
) -> KernelRidge:
    """The RBF kernel ridge regressor (unfitted) that ``GridSearchCV(KernelRidge(kernel="rbf"), {"alpha": alphas,
    "gamma": gammas}, cv=folds)`` would select, without its per-fit overhead (which made it most of an evaluation).

    On each training fold, c = (K + α I)⁻¹ y by a Cholesky solve (as KernelRidge does) with the fold's kernel K
    computed once per gamma; the held-out prediction is K_*· c. The score is GridSearchCV's: R² averaged over the
    outputs on each of the ``folds`` consecutive (unshuffled) folds, then over folds; ties go to the first candidate
    in (alpha, gamma) grid order, as in GridSearchCV.
    """
    splits = list(KFold(folds).split(inputs))
    scores = np.zeros((len(alphas), len(gammas)))
    for g, gamma in enumerate(gammas):
        kernel = rbf_kernel(inputs, inputs, gamma=gamma)
        for train, held_out in splits:
            train_kernel, cross = kernel[np.ix_(train, train)], kernel[np.ix_(held_out, train)]
            for a, alpha in enumerate(alphas):
                dual = scipy.linalg.solve(train_kernel + alpha * np.eye(len(train)), targets[train], assume_a="pos")
                scores[a, g] += r2_score(targets[held_out], cross @ dual) / folds
    a, g = np.unravel_index(np.argmax(scores), scores.shape)
    return KernelRidge(kernel="rbf", alpha=alphas[a], gamma=gammas[g])


def precision_recall_f1(hits: int, n_predicted: int, n_true: int) -> dict[str, float]:
    """precision = hits / n_predicted (1.0 if nothing is predicted), recall = hits / n_true (1.0 if nothing is
    true), f1 = 2 precision recall / (precision + recall) (0.0 if both are 0). Hence nothing predicted nor true gives
    1, 1, 1; nothing predicted with something true gives precision 1, recall 0, f1 0; the reverse precision 0,
    recall 1, f1 0."""
    precision = hits / n_predicted if n_predicted else 1.0
    recall = hits / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def block_pair_scores(
    sharing_pattern: np.ndarray,
    predicted_pairs: set[frozenset[tuple[int, int]]],
    best_latent: dict[tuple[int, int], int],
) -> dict[str, float]:
    """Precision, recall and F1 of recovered coordinate pairs, scored by blocks.

    Latents with the same signature S(j) form a block: partial sharing identifies them only as a block, so a
    coordinate is credited with the block β(m, i) = S(best_latent[(m, i)]) of the latent it correlates with most.
    A predicted pair {(a, i), (b, i')} is a hit iff β(a, i) = β(b, i') ∋ a, b, counting at most |block| hits per
    (a, b, block) — a further pair encodes a latent of that block twice and is a false positive. The true pairs
    number T = Σ_j C(|S(j)|, 2) = Σ_{a<b} |S_a ∩ S_b|; see :func:`precision_recall_f1` for the formulas.
    """
    signatures = latent_signatures(sharing_pattern)
    block_size = Counter(signatures)
    n_true = sum(len(signature) * (len(signature) - 1) // 2 for signature in signatures)
    used: Counter = Counter()
    hits = 0
    for pair in sorted(predicted_pairs, key=sorted):
        (a, i), (b, i_b) = sorted(pair)
        block = signatures[best_latent[(a, i)]]
        if block == signatures[best_latent[(b, i_b)]] and {a, b} <= block and used[(a, b, block)] < block_size[block]:
            used[(a, b, block)] += 1
            hits += 1
    return precision_recall_f1(hits, len(predicted_pairs), n_true)


def shared_pairs(latent_of_coordinate: dict[tuple[int, int], Hashable]) -> set[frozenset[tuple[int, int]]]:
    """All unordered pairs {(m, i), (m', i')} with m ≠ m' whose coordinates map to the same latent.

    latent_of_coordinate maps (modality, coordinate index) to a latent id; coordinates of the same modality never
    form a pair.
    """
    by_latent: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
    for coordinate, latent in latent_of_coordinate.items():
        by_latent[latent].append(coordinate)
    return {
        frozenset((first, second))
        for coordinates in by_latent.values()
        for first, second in itertools.combinations(coordinates, 2)
        if first[0] != second[0]
    }


def pattern_matches(true_pattern: np.ndarray, recovered_pattern: np.ndarray) -> bool:
    """True iff recovered = true · P for a permutation matrix P, i.e. both (M, N) patterns hold the same multiset of
    columns (signatures)."""
    true_pattern, recovered_pattern = np.asarray(true_pattern), np.asarray(recovered_pattern)
    if true_pattern.shape != recovered_pattern.shape:
        return False
    return sorted(map(tuple, true_pattern.T.tolist())) == sorted(map(tuple, recovered_pattern.T.tolist()))


def dag_to_cpdag_shd(true_adjacency: np.ndarray, z_est: np.ndarray, alpha: float = 0.01) -> int:
    """Structural Hamming distance between the PC-estimated CPDAG of z_est and the CPDAG of the true DAG.

    true_adjacency[i, j] = 1 iff i → j. PC (causal-learn, Fisher-z test at level alpha, stable skeleton) runs on
    z_est, whose column j estimates latent j. SHD counts the node pairs whose edge (absent, undirected, or directed
    either way) differs between the two CPDAGs (causal-learn's SHD); nodes are named X1..XN in both graphs.
    """
    adjacency = np.asarray(true_adjacency)
    z_est = np.asarray(z_est, dtype=float)
    n_nodes = adjacency.shape[0]
    if adjacency.shape != (n_nodes, n_nodes) or z_est.ndim != 2 or z_est.shape[1] != n_nodes:
        raise ValueError(f"need an (N, N) adjacency and (n, N) data, got {adjacency.shape} and {z_est.shape}")
    names = [f"X{j + 1}" for j in range(n_nodes)]
    nodes = [GraphNode(name) for name in names]
    dag = Dag(nodes)
    for i, j in zip(*np.nonzero(adjacency), strict=True):
        dag.add_directed_edge(nodes[i], nodes[j])
    estimated = pc(z_est, alpha, "fisherz", stable=True, show_progress=False, verbose=False, node_names=names)
    return int(SHD(dag2cpdag(dag), estimated.G).get_shd())
