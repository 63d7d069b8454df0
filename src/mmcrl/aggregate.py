"""Aggregation: gather every run's ``metrics.json`` into tidy tables (one row per run, one row per run × latent)
and summarise each experiment as mean ± std over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mmcrl.io import atomic_write, read_json, write_json

RUN_KEYS = ["experiment", "dataset", "method", "seed"]
SUMMARY_METRICS = [
    "mcc",
    "mcc_identifiable",
    "mcc_block",
    "mcc_private",
    "mcc_spearman",
    "r2_linear",
    "r2_kernel",
    "r2_shared",
    "structure_f1",
    "structure_exact",
    "shd",
    "train_seconds",
]


def collect(paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, latents) tables from ``metrics.json`` files."""
    runs, latents = [], []
    for path in paths:
        record = read_json(path)
        keys = {key: record[key] for key in RUN_KEYS}
        runs.append(keys | {"told": record["told"], "told_pattern": record["told_pattern"]} | record["summary"])
        for latent in record["latents"]:
            latents.append(
                keys
                | {k: v for k, v in latent.items() if k != "mcc_by_modality"}
                | {"signature": "{" + ",".join(map(str, latent["signature"])) + "}"}
            )
    order = RUN_KEYS
    return (
        pd.DataFrame(runs).sort_values(order, ignore_index=True),
        pd.DataFrame(latents).sort_values([*order, "latent"], ignore_index=True),
    )


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each summary metric, per (experiment, dataset, method)."""
    values = runs.assign(structure_exact=runs["structure_exact"].astype(float))
    grouped = values.groupby(["experiment", "dataset", "method"], sort=True)
    summary = grouped[SUMMARY_METRICS].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary.insert(0, "n_seeds", grouped.size())
    summary.insert(0, "told", grouped["told"].first())
    return summary.reset_index()


def markdown_table(summary: pd.DataFrame, metrics: list[str]) -> str:
    """A Markdown table of ``mean ± std`` cells (``–`` where a metric does not apply)."""
    header = ["dataset", "method", "told", "seeds", *metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [str(row["dataset"]), str(row["method"]), str(row["told"]), str(row["n_seeds"])]
        for metric in metrics:
            mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
            cells.append("–" if pd.isna(mean) else f"{mean:.3f} ± {0.0 if pd.isna(std) else std:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(paths: list[str | Path], out_dir: str | Path, metrics_json: str | Path) -> None:
    """Write ``runs.csv``, ``latents.csv``, per experiment ``<exp>.csv`` and ``<exp>.md``, the DVC metrics file,
    ``factors.csv`` and ``downstream.csv`` / ``.md``."""
    out_dir = Path(out_dir)
    runs, latents = collect(paths)
    _write_csv(runs, out_dir / "runs.csv")
    _write_csv(latents, out_dir / "latents.csv")
    summary = summarise(runs)
    for experiment, table in summary.groupby("experiment"):
        _write_csv(table, out_dir / f"{experiment}.csv")
        text = f"# {experiment}: mean ± std over seeds\n\n" + markdown_table(table, SUMMARY_METRICS[:-1])
        atomic_write(out_dir / f"{experiment}.md", lambda stream, text=text: stream.write(text.encode()))
    write_json(metrics_json, _dvc_metrics(summary))
    write_factor_and_downstream_tables(runs, latents, out_dir)


def _dvc_metrics(summary: pd.DataFrame) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _, row in summary.iterrows():
        cell = nested.setdefault(row["experiment"], {}).setdefault(row["dataset"], {})
        cell[row["method"]] = {
            metric: None if pd.isna(row[f"{metric}_mean"]) else round(float(row[f"{metric}_mean"]), 4)
            for metric in SUMMARY_METRICS
        }
    return nested


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    text = table.to_csv(index=False, float_format="%.6g", na_rep="")
    atomic_write(path, lambda stream: stream.write(text.encode()))


# ---------------------------------------------------------------- per-factor scores and the downstream probe

DOWNSTREAM_METRICS = ["downstream_acc_100", "downstream_acc_1000", "r2_shared", "accuracy_shared"]


def factor_scores(latents: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, dataset, method, latent): the factor's score — kernel R² if continuous, logistic-regression
    accuracy if discrete (``score_kind`` says which) — as mean and std over seeds."""
    table = latents.copy()
    if "factor" not in table:
        table["factor"] = "z" + table["latent"].astype(str)
        table["factor_type"] = "continuous"
    if "accuracy" not in table:
        table["accuracy"] = float("nan")
    discrete = table["factor_type"].eq("discrete")
    table["score_kind"] = discrete.map({True: "accuracy", False: "r2_kernel"})
    table["score"] = table["accuracy"].where(discrete, table["r2_kernel"])
    keys = ["experiment", "dataset", "method", "latent", "factor", "factor_type", "class", "signature", "score_kind"]
    grouped = table.groupby(keys, sort=True)["score"]
    return grouped.agg(score_mean="mean", score_std="std", n_seeds="size").reset_index()


def summarise_downstream(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the downstream probe accuracies (and the shared-factor scores beside them)."""
    metrics = [metric for metric in DOWNSTREAM_METRICS if metric in runs]
    values = runs.assign(**{metric: pd.to_numeric(runs[metric]) for metric in metrics})
    grouped = values.groupby(["experiment", "dataset", "method"], sort=True)
    summary = grouped[metrics].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary.insert(0, "n_seeds", grouped.size())
    summary.insert(0, "told", grouped["told"].first())
    return summary.reset_index()


def write_factor_and_downstream_tables(runs: pd.DataFrame, latents: pd.DataFrame, out_dir: Path) -> None:
    """Write ``factors.csv`` (per-factor scores), ``downstream.csv`` and ``downstream.md`` (probe accuracies)."""
    _write_csv(factor_scores(latents), out_dir / "factors.csv")
    downstream = summarise_downstream(runs)
    _write_csv(downstream, out_dir / "downstream.csv")
    metrics = [metric for metric in DOWNSTREAM_METRICS if f"{metric}_mean" in downstream]
    text = "\n".join(
        f"# {experiment}: downstream linear probe (accuracy after 100 / 1,000 labels), mean ± std over seeds\n\n"
        + markdown_table(table, metrics)
        for experiment, table in downstream.groupby("experiment")
    )
    atomic_write(out_dir / "downstream.md", lambda stream: stream.write(text.encode()))
