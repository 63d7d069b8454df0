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


def read_records(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Every run record of ``metrics.json`` files (``mmcrl evaluate`` writes one record per seed into each)."""
    return [record for path in paths for record in read_json(path)]


def collect(paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, latents) tables from ``metrics.json`` files."""
    runs, latents = [], []
    for record in read_records(paths):
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


def _mean_std_over_seeds(values: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per (experiment, dataset, method): what the method is told, the number of seeds, and ``<metric>_mean`` /
    ``<metric>_std`` over seeds of each metric."""
    grouped = values.groupby(["experiment", "dataset", "method"], sort=True)
    summary = grouped[metrics].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary.insert(0, "n_seeds", grouped.size())
    summary.insert(0, "told", grouped["told"].first())
    return summary.reset_index()


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each summary metric, per (experiment, dataset, method)."""
    return _mean_std_over_seeds(runs.assign(structure_exact=runs["structure_exact"].astype(float)), SUMMARY_METRICS)


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
    """Write ``runs.csv``, ``latents.csv``, per experiment ``<exp>.csv`` and ``<exp>.md``, the comparison table
    (``comparison.md``, ``.tex``), the DVC metrics file, ``factors.csv`` and ``downstream.csv`` / ``.md``."""
    out_dir = Path(out_dir)
    runs, latents = collect(paths)
    _write_csv(runs, out_dir / "runs.csv")
    _write_csv(latents, out_dir / "latents.csv")
    summary = summarise(runs)
    for experiment, table in summary.groupby("experiment"):
        _write_csv(table, out_dir / f"{experiment}.csv")
        text = f"# {experiment}: mean ± std over seeds\n\n" + markdown_table(table, SUMMARY_METRICS[:-1])
        atomic_write(out_dir / f"{experiment}.md", lambda stream, text=text: stream.write(text.encode()))
    write_comparison(runs, out_dir)
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


# (column of runs.csv, Markdown header, LaTeX header) of the comparison table, in column order.
COMPARISON_METRICS = (
    ("mcc_identifiable", "MCC id.", r"MCC$_\mathrm{id}$"),
    ("r2_kernel", "R² kernel", r"$R^2_\mathrm{kernel}$"),
    ("structure_f1", "structure F1", r"F1$_\mathrm{struct}$"),
)


# The experiment whose runs the comparison table shows, when the study has one.
COMPARISON_EXPERIMENT = "comparison"


def comparison_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs the comparison table shows: those of the experiment named COMPARISON_EXPERIMENT when ``runs`` has
    one (so the ablation's variants and other experiments' runs stay out of it), else every run — a (dataset,
    method, seed) that several experiments ran counted once, from the first experiment by name."""
    chosen = runs[runs["experiment"] == COMPARISON_EXPERIMENT]
    if chosen.empty:
        chosen = runs
    return chosen.sort_values(RUN_KEYS).drop_duplicates(["dataset", "method", "seed"])


def comparison_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, dataset) of :func:`comparison_runs`: ``told``, ``told_pattern``, ``n_seeds``, and
    ``<metric>_mean/_std`` over seeds of each COMPARISON_METRICS column, plus ``<metric>_best``: whether it is the
    highest mean on its dataset among the methods not told the pattern."""
    grouped = comparison_runs(runs).groupby(["method", "dataset"], sort=True)
    metrics = [metric for metric, _, _ in COMPARISON_METRICS]
    cells = grouped[metrics].agg(["mean", "std"])
    cells.columns = [f"{metric}_{stat}" for metric, stat in cells.columns]
    cells = cells.reset_index()
    cells.insert(2, "n_seeds", grouped.size().to_numpy())
    cells.insert(2, "told_pattern", grouped["told_pattern"].any().to_numpy())
    cells.insert(2, "told", grouped["told"].first().to_numpy())
    for metric in metrics:
        competitors = cells[~cells["told_pattern"]]
        best = competitors.groupby("dataset")[f"{metric}_mean"].transform("max")
        cells[f"{metric}_best"] = False
        cells.loc[competitors.index, f"{metric}_best"] = competitors[f"{metric}_mean"].eq(best) & best.notna()
    return cells


def _comparison_grid(cells: pd.DataFrame, bold: str, plus_minus: str, missing: str) -> tuple[list, list[list[str]]]:
    """(datasets, rows): a row per method (competitors by name, then methods told the pattern), its ``told`` and one
    ``mean ± std`` cell per dataset × metric, the best competitor's wrapped in ``bold`` (a format string)."""
    datasets = sorted(cells["dataset"].unique())
    methods = cells.drop_duplicates("method").sort_values(["told_pattern", "method"])
    rows = []
    for _, method in methods.iterrows():
        row = [method["method"], method["told"]]
        for dataset in datasets:
            match = cells[(cells["method"] == method["method"]) & (cells["dataset"] == dataset)]
            for metric, _, _ in COMPARISON_METRICS:
                if match.empty or pd.isna(match[f"{metric}_mean"].iloc[0]):
                    row.append(missing)
                    continue
                mean, std = match[f"{metric}_mean"].iloc[0], match[f"{metric}_std"].iloc[0]
                text = f"{mean:.2f}{plus_minus}{0.0 if pd.isna(std) else std:.2f}"
                row.append(bold.format(text) if match[f"{metric}_best"].iloc[0] else text)
        rows.append(row)
    return datasets, rows


def comparison_markdown(cells: pd.DataFrame) -> str:
    """The comparison as a Markdown table: methods × (dataset × metric), best competitor in bold."""
    datasets, rows = _comparison_grid(cells, "**{}**", " ± ", "–")
    header = ["method", "told"] + [f"{dataset}: {name}" for dataset in datasets for _, name, _ in COMPARISON_METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def comparison_latex(cells: pd.DataFrame) -> str:
    """The comparison as a LaTeX ``tabular`` (booktabs): a column group per dataset, best competitor in bold."""
    datasets, rows = _comparison_grid(cells, r"\textbf{{{}}}", r" $\pm$ ", "--")
    n = len(COMPARISON_METRICS)
    groups = " & ".join(rf"\multicolumn{{{n}}}{{c}}{{{_latex_escape(dataset)}}}" for dataset in datasets)
    rules = " ".join(rf"\cmidrule(lr){{{3 + n * i}-{2 + n * (i + 1)}}}" for i in range(len(datasets)))
    names = " & ".join(latex for _ in datasets for _, _, latex in COMPARISON_METRICS)
    lines = [
        r"\begin{tabular}{ll" + "c" * n * len(datasets) + "}",
        r"\toprule",
        rf" & & {groups} \\",
        rules,
        rf"method & told & {names} \\",
        r"\midrule",
    ]
    lines += [" & ".join([_latex_escape(row[0]), _latex_escape(row[1]), *row[2:]]) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")


def write_comparison(runs: pd.DataFrame, out_dir: str | Path) -> None:
    """Write ``comparison.md`` and ``comparison.tex``: every method of :func:`comparison_runs` on every dataset,
    mean ± std over seeds; both name the experiment(s) the runs come from."""
    experiments = ", ".join(sorted(comparison_runs(runs)["experiment"].unique()))
    cells = comparison_cells(runs)
    caption = (
        f"# Comparison ({experiments}): mean ± std over seeds, best method not told the pattern in bold\n\n"
        + comparison_markdown(cells)
    )
    atomic_write(Path(out_dir) / "comparison.md", lambda stream: stream.write(caption.encode()))
    latex = f"% experiment: {experiments}; mean and std over seeds, best method not told the pattern in bold\n"
    latex += comparison_latex(cells)
    atomic_write(Path(out_dir) / "comparison.tex", lambda stream: stream.write(latex.encode()))


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
    return _mean_std_over_seeds(runs.assign(**{metric: pd.to_numeric(runs[metric]) for metric in metrics}), metrics)


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
