"""Figures of one experiment: scores per dataset and method, per-latent scores, and true vs recovered sharing patterns.

Inputs are the aggregate tables (``runs.csv``, ``latents.csv``) and the runs' ``metrics.json`` files; only rows and
files of the requested experiment are drawn. Figures are built as plain :class:`matplotlib.figure.Figure` objects on
the Agg canvas (never registered with pyplot, so no display is needed and nothing stays open), written atomically in
every configured format, with the metadata that would change between runs (creation date, software version) left out
so that equal inputs give equal files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy.optimize import linear_sum_assignment

from mmcrl.aggregate import read_records
from mmcrl.io import atomic_write

# (column of runs.csv, panel title, y-axis label), in panel order.
SCORE_PANELS = (
    ("mcc_identifiable", "identifiable latents (unique signature, ≥2 modalities)", "MCC"),
    ("mcc_private", "private latents (seen by 1 modality)", "MCC"),
    ("mcc", "all latents", "MCC"),
    ("r2_shared", "shared latents (≥2 modalities)", "kernel R²"),
)
_TOLD_COLOUR = "0.72"
_TOLD_HATCH = "//"
_STABLE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None}, "svg": {"Date": None}}
_TEXT_COLUMNS = {"experiment": str, "dataset": str, "method": str}


@dataclass(frozen=True)
class MethodStyle:
    """How methods are ordered, named and coloured; methods told the true pattern come first, drawn grey."""

    order: list[str]
    told: dict[str, bool]
    colours: dict[str, tuple[float, float, float]]

    @classmethod
    def from_runs(cls, runs: pd.DataFrame) -> MethodStyle:
        """Style of the methods in ``runs`` (its ``told_pattern`` column marks the methods given the pattern)."""
        told = runs.groupby("method")["told_pattern"].any().to_dict()
        order = sorted(told, key=lambda method: (not told[method], method))
        palette = [colour for i, colour in enumerate(sns.color_palette("colorblind")) if i != 7]  # 7 is grey
        learned = [method for method in order if not told[method]]
        colours = {method: to_rgb(_TOLD_COLOUR) for method in order if told[method]}
        colours |= {method: palette[i % len(palette)] for i, method in enumerate(learned)}
        return cls(order, told, colours)

    def label(self, method: str) -> str:
        """Legend name of a method."""
        return f"{method} (told the pattern)" if self.told.get(method, False) else method


def write_figures(
    experiment: str,
    tables_dir: str | Path,
    metrics_paths: list[str | Path],
    figure_config: dict[str, Any],
    out_dir: str | Path,
) -> list[Path]:
    """Write ``mcc``, ``latents``, ``patterns`` and ``comparison`` of ``experiment`` in every format of
    ``figure_config``.

    ``figure_config`` holds ``formats`` (e.g. ``["png", "pdf"]``), ``dpi`` and the seaborn ``context``. Returns the
    written paths, figure by figure in that order, each in the configured format order.
    """
    runs = _read_table(Path(tables_dir) / "runs.csv", experiment)
    latents = _read_table(Path(tables_dir) / "latents.csv", experiment)
    records = [record for record in read_records(metrics_paths) if record["experiment"] == experiment]
    if not records:
        raise ValueError(f"none of the {len(metrics_paths)} metrics files is of experiment {experiment!r}")
    runs["told_pattern"] = runs["told_pattern"].astype(str).str.lower().eq("true")
    style = MethodStyle.from_runs(runs)
    written: list[Path] = []
    with _plot_style(figure_config["context"]):
        for name, figure in (
            ("mcc", _scores_figure(experiment, runs, style)),
            ("latents", _latents_figure(experiment, latents, style)),
            ("patterns", _patterns_figure(experiment, records, style)),
            ("comparison", _comparison_figure(experiment, runs, style)),
        ):
            written += _save(figure, Path(out_dir), name, figure_config)
    return written


def _read_table(path: Path, experiment: str) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=_TEXT_COLUMNS)
    table = table[table["experiment"] == experiment].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{path}: no row of experiment {experiment!r}")
    return table


@contextlib.contextmanager
def _plot_style(context: str) -> Iterator[None]:
    """Seaborn context and white-grid style, SVG text kept as text with fixed ids; all undone on exit."""
    stable = {"svg.hashsalt": "mmcrl", "svg.fonttype": "none"}
    with sns.axes_style("whitegrid"), sns.plotting_context(context), mpl.rc_context(stable):
        yield


def _new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on the Agg canvas (not registered with pyplot)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, out_dir: Path, name: str, config: dict[str, Any]) -> list[Path]:
    paths = []
    for fmt in config["formats"]:
        options = {"format": fmt, "dpi": config["dpi"], "metadata": _STABLE_METADATA.get(fmt)}
        paths.append(atomic_write(out_dir / f"{name}.{fmt}", lambda stream, o=options: figure.savefig(stream, **o)))
    figure.clear()
    return paths


# ---------------------------------------------------------------- mcc: scores per dataset and method


def _method_handles(style: MethodStyle) -> list[Patch]:
    """One legend patch per method in plotting order, methods told the pattern hatched."""
    return [
        Patch(
            facecolor=style.colours[m],
            hatch=_TOLD_HATCH if style.told[m] else None,
            edgecolor="0.3",
            label=style.label(m),
        )
        for m in style.order
    ]


def _scores_figure(experiment: str, runs: pd.DataFrame, style: MethodStyle) -> Figure:
    """2 × 2 panels of SCORE_PANELS: bars = mean over seeds, dots = seeds; one legend below the panels."""
    datasets = sorted(runs["dataset"].unique())
    figure = _new_figure(max(8.0, 2.2 + 0.5 * len(datasets) * len(style.order)), 6.8)
    for ax, (metric, title, ylabel) in zip(figure.subplots(2, 2).flat, SCORE_PANELS, strict=True):
        ax.set_title(title)
        values = runs[["dataset", "method", metric]].dropna() if metric in runs else pd.DataFrame()
        if values.empty:
            _empty_panel(ax, "no latent of this class")
            continue
        _score_panel(ax, values, metric, datasets, style)
        ax.set_ylabel(ylabel)
    handles = _method_handles(style)
    handles.append(Line2D([], [], ls="", marker="o", color="white", markeredgecolor="black", label="one seed"))
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), frameon=False)
    figure.suptitle(f"{experiment}: mean over seeds (bars) and each seed (dots)")
    return figure


def _score_panel(ax: Axes, values: pd.DataFrame, metric: str, datasets: list[str], style: MethodStyle) -> None:
    common = {
        "data": values,
        "x": "dataset",
        "y": metric,
        "order": datasets,
        "hue": "method",
        "hue_order": style.order,
        "palette": style.colours,
        "ax": ax,
        "legend": False,
    }
    sns.barplot(**common, errorbar=None, edgecolor="0.3", linewidth=0.6)
    told_rgb = to_rgb(_TOLD_COLOUR)
    for bar in ax.patches:
        if np.allclose(bar.get_facecolor()[:3], told_rgb):
            bar.set_hatch(_TOLD_HATCH)
    dots = {"palette": dict.fromkeys(style.order, "white"), "edgecolor": "black", "linewidth": 0.8}
    sns.stripplot(**(common | dots), dodge=True, jitter=False, size=4.5)
    present = set(values["dataset"])
    for position, dataset in enumerate(datasets):
        if dataset not in present:
            ax.text(position, 0.5, "no latent\nof this class", ha="center", va="center", fontsize="small")
    bottom = min(0.0, float(values[metric].min()))
    ax.set_ylim(bottom - 0.05 if bottom < 0 else 0.0, 1.02)
    ax.set_xlabel("")


def _empty_panel(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------- latents: per-latent matched correlation


def _lowest_seed(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the lowest seed of each (dataset, method)."""
    return table[table["seed"] == table.groupby(["dataset", "method"])["seed"].transform("min")]


def _latents_figure(experiment: str, latents: pd.DataFrame, style: MethodStyle) -> Figure:
    """One heat-map per dataset (stacked): rows = latents, columns = methods, cells = matched correlation."""
    chosen = _lowest_seed(latents)
    datasets = sorted(chosen["dataset"].unique())
    heights = [chosen.loc[chosen["dataset"] == d, "latent"].nunique() for d in datasets]
    figure = _new_figure(3.6 + 1.3 * len(style.order), 1.2 + 0.42 * sum(heights) + 1.0 * len(datasets))
    axes = figure.subplots(len(datasets), 1, height_ratios=heights, squeeze=False)[:, 0]
    for ax, dataset in zip(axes, datasets, strict=True):
        _latent_heatmap(ax, chosen[chosen["dataset"] == dataset], style)
        ax.set_title(dataset)
    figure.colorbar(axes[0].collections[0], ax=list(axes), label="matched |correlation|", shrink=0.8)
    figure.suptitle(f"{experiment}: per-latent matched correlation (lowest seed per method)")
    return figure


def _latent_heatmap(ax: Axes, table: pd.DataFrame, style: MethodStyle) -> None:
    methods = [m for m in style.order if m in set(table["method"])]
    matrix = table.pivot(index="latent", columns="method", values="mcc").reindex(columns=methods)
    described = table.drop_duplicates("latent").set_index("latent")
    rows = [f"z{j} · {described.at[j, 'class']} {described.at[j, 'signature']}" for j in matrix.index]
    seeds = table.groupby("method")["seed"].first()
    columns = [f"{style.label(m).replace(' (', chr(10) + '(')}\nseed {seeds[m]}" for m in methods]
    values = matrix.to_numpy(dtype=float)
    _heatmap(ax, values, "viridis", columns, rows)
    texts = np.where(np.isnan(values), "", np.char.mod("%.2f", np.nan_to_num(values)))
    _annotate(ax, texts, np.where(values < 0.6, "white", "black"))


# ---------------------------------------------------------------- patterns: true vs recovered sharing pattern


def _patterns(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """True and recovered pattern of a run as modalities × latents 0/1 arrays (recovered may have zero columns)."""
    true = np.asarray(record["patterns"]["true"], dtype=int)
    recovered = np.asarray(record["patterns"]["recovered"], dtype=int)
    return true, recovered.reshape(true.shape[0], -1) if recovered.size else np.zeros((true.shape[0], 0), dtype=int)


def align_columns(true: np.ndarray, recovered: np.ndarray) -> tuple[list[int], list[int | None]]:
    """Order of the recovered columns that best matches the true ones, and each one's matched true column.

    Columns are paired by the Hungarian algorithm on the number of modalities where they agree; matched recovered
    columns come in the order of their true column, unmatched ones (more recovered than true) last.
    """
    agreement = (true[:, :, None] == recovered[:, None, :]).sum(axis=0)
    true_columns, recovered_columns = linear_sum_assignment(agreement, maximize=True)
    matched = dict(zip(recovered_columns.tolist(), true_columns.tolist(), strict=True))
    order = sorted(range(recovered.shape[1]), key=lambda c: (matched.get(c, true.shape[1]), c))
    return order, [matched.get(c) for c in order]


@dataclass(frozen=True)
class PatternPanel:
    """One binary heat-map of the patterns figure; ``differs`` flags cells unlike the matched true column."""

    title: str
    pattern: np.ndarray
    differs: np.ndarray | None
    columns: list[str]
    xlabel: str


PATTERN_PANELS_PER_ROW = 4  # the true pattern and three methods per row, so the figure stays page-wide


def _patterns_figure(experiment: str, records: list[dict[str, Any]], style: MethodStyle) -> Figure:
    """A block per dataset: the true pattern, then each method's recovered pattern (lowest seed), wrapped into rows
    of PATTERN_PANELS_PER_ROW panels, every cell the same size (0.4 inch; a row is as wide as its panels)."""
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r["dataset"], r["method"], r["seed"])):
        chosen.setdefault((record["dataset"], record["method"]), record)
    datasets = sorted({dataset for dataset, _ in chosen})
    rows = []  # (dataset, panels of one row of the figure)
    for dataset in datasets:
        panels = _dataset_panels({m: chosen[(dataset, m)] for m in style.order if (dataset, m) in chosen}, style)
        starts = range(0, len(panels), PATTERN_PANELS_PER_ROW)
        rows += [(dataset, panels[start : start + PATTERN_PANELS_PER_ROW]) for start in starts]
    widths = [[max(2, panel.pattern.shape[1]) for panel in panels] for _, panels in rows]
    heights = [0.4 * panels[0].pattern.shape[0] + 1.0 for _, panels in rows]  # inches: 0.4 per cell, 1.0 of labels
    needed = [0.4 * sum(w) + 0.5 * len(w) for w in widths]  # inches: 0.4 per cell, 0.5 of labels per panel
    width = max(6.5, max(needed) + 0.9)
    figure = _new_figure(width, sum(heights) + 1.2)
    subfigures = figure.subfigures(len(rows), 1, height_ratios=heights, squeeze=False)[:, 0]
    for subfigure, (dataset, panels), row_widths, row_needs in zip(subfigures, rows, widths, needed, strict=True):
        # a narrower row ends in an empty axes of the width it lacks (in cells), so that its cells are not
        # stretched to the figure's width and taller than its height allows
        spare = (width - 0.9 - row_needs) / 0.4
        ratios = row_widths + ([spare] if spare >= 1 else [])
        axes = subfigure.subplots(1, len(ratios), width_ratios=ratios, squeeze=False)[0]
        for ax, panel in zip(axes, panels, strict=False):
            _pattern_panel(ax, panel)
        for ax in axes[len(panels) :]:
            ax.set_axis_off()
        axes[0].set_ylabel(f"{dataset}\nmodality")
    figure.suptitle(f"{experiment}: true vs recovered sharing pattern (lowest seed)")
    figure.supxlabel(
        "filled: modality sees latent;  red ×: differs from the matched true column\n"
        "recovered columns reordered to best match the true ones",
        fontsize="small",
    )
    return figure


def _dataset_panels(runs: dict[str, dict[str, Any]], style: MethodStyle) -> list[PatternPanel]:
    """The true pattern (of the lowest seed among ``runs``), then each method's recovered pattern."""
    true = _patterns(min(runs.values(), key=lambda r: r["seed"]))[0]
    truth = PatternPanel("true", true, None, [f"z{j}" for j in range(true.shape[1])], "latent")
    return [truth, *(_recovered_panel(runs[method], style) for method in runs)]


def _recovered_panel(record: dict[str, Any], style: MethodStyle) -> PatternPanel:
    """A run's recovered pattern, columns ordered to match its true pattern."""
    true, recovered = _patterns(record)
    exact = "yes" if record["summary"]["structure_exact"] else "no"
    title = f"{record['method']}{', told' if style.told.get(record['method']) else ''} (exact: {exact})"
    order, matched = align_columns(true, recovered)
    differs = np.zeros((true.shape[0], len(order)), dtype=bool)
    for position, column in enumerate(matched):
        if column is not None:
            differs[:, position] = recovered[:, order[position]] != true[:, column]
    return PatternPanel(title, recovered[:, order], differs, [str(c) for c in order], "recovered latent")


def _pattern_panel(ax: Axes, panel: PatternPanel) -> None:
    """A binary modalities × latents heat-map with square cells; cells flagged in ``panel.differs`` carry a red ×."""
    ax.set_title(panel.title, fontsize="medium")
    if panel.pattern.shape[1] == 0:
        _empty_panel(ax, "nothing\nrecovered")
        return
    modalities = [str(m) for m in range(panel.pattern.shape[0])]
    _heatmap(ax, panel.pattern, ListedColormap(["white", "#3b4a6b"]), panel.columns, modalities)
    if panel.differs is not None:
        _annotate(ax, np.where(panel.differs, "×", ""), np.full(panel.differs.shape, "#e8312f"), "large")
    ax.set_aspect("equal")
    ax.set_xlabel(panel.xlabel)
    ax.tick_params(labelsize="small")


def _heatmap(ax: Axes, values: np.ndarray, cmap: Colormap | str, xlabels: list[str], ylabels: list[str]) -> None:
    """Cells coloured on the range 0..1 (NaN left blank), first row at the top, labels centred on the cells."""
    ax.pcolormesh(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0, edgecolors="0.8", linewidth=0.6)
    ax.set_xlim(0, values.shape[1])
    ax.set_ylim(values.shape[0], 0)
    ax.set_xticks(np.arange(values.shape[1]) + 0.5, xlabels)
    ax.set_yticks(np.arange(values.shape[0]) + 0.5, ylabels)
    ax.tick_params(length=0)
    ax.grid(False)


def _annotate(ax: Axes, texts: np.ndarray, colours: np.ndarray, size: str = "medium") -> None:
    """Write ``texts[i, j]`` in colour ``colours[i, j]`` at the centre of cell (i, j)."""
    for (i, j), text in np.ndenumerate(texts):
        if text:
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", color=colours[i, j], size=size, weight="bold")


# ---------------------------------------------------------------- comparison: the comparison table as a figure

# (column of runs.csv, panel title, x-axis label): the columns of reports/tables/comparison.md, in order.
COMPARISON_PANELS = (
    ("mcc_identifiable", "identifiable latents", "MCC"),
    ("r2_kernel", "all latents", "kernel R²"),
    ("structure_f1", "recovered structure", "F1"),
)
_SEED_OFFSET = 0.28  # seeds are drawn this far below their method's line, clear of the mean marker
# the mean marker of a method told the pattern: a hollow diamond, grey-edged (others: a filled dot of their colour)
_CEILING_MARKER = {"marker": "D", "markerfacecolor": "white", "markeredgecolor": "0.35"}


def _comparison_figure(experiment: str, runs: pd.DataFrame, style: MethodStyle) -> Figure:
    """The comparison table drawn: a row of panels per dataset, a column per COMPARISON_PANELS metric (shared x
    range), a line per method with its mean ± std over seeds and each seed; methods told the pattern (the ceiling)
    grey, hollow diamonds, their mean a dashed line across the panel. 11 inches wide whatever the grid."""
    datasets = sorted(runs["dataset"].unique())
    figure = _new_figure(11.0, max(3.2, 1.5 + len(datasets) * (0.55 + 0.27 * len(style.order))))
    figure.get_layout_engine().set(wspace=0.04)  # keeps a panel's last x tick clear of the next one's first
    grid = figure.subplots(len(datasets), len(COMPARISON_PANELS), sharex="col", sharey=True, squeeze=False)
    for column, (metric, title, xlabel) in enumerate(COMPARISON_PANELS):
        values = runs[["dataset", "method", metric]].dropna() if metric in runs else pd.DataFrame()
        for axes, dataset in zip(grid[:, column], datasets, strict=True):
            _comparison_panel(axes, values[values["dataset"] == dataset] if len(values) else values, metric, style)
        lowest = min(0.0, float(values[metric].min())) if len(values) else 0.0
        grid[0, column].set_xlim(lowest - 0.05 if lowest < 0 else -0.03, 1.05)
        grid[0, column].set_title(title)
        grid[-1, column].set_xlabel(xlabel)
    for axes, dataset in zip(grid[:, 0], datasets, strict=True):
        axes.set_ylabel(dataset, fontweight="bold")
    grid[0, 0].set_ylim(len(style.order) - 0.5, -0.5)  # first method at the top
    grid[0, 0].set_yticks(range(len(style.order)), style.order)
    handles = [
        Line2D([], [], marker="o", color="0.2", label="mean ± std over seeds"),
        Line2D([], [], ls="", marker="o", color="0.2", alpha=0.6, markersize=3, label="one seed"),
    ]
    if any(style.told.values()):
        label = "told the pattern (the ceiling, not a competitor)"
        handles.append(Line2D([], [], ls="--", color=_TOLD_COLOUR, **_CEILING_MARKER, label=label))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle(f"{experiment}: the comparison table's metrics per dataset and method")
    return figure


def _comparison_panel(axes: Axes, values: pd.DataFrame, metric: str, style: MethodStyle) -> None:
    """A line per method of ``style`` (row = its position in ``style.order``): mean ± std of ``values[metric]`` over
    seeds, each seed a small dot just below; a method told the pattern also gets a dashed line at its mean."""
    axes.grid(axis="y", visible=False)
    if values.empty:
        axes.text(0.5, 0.5, "not applicable", ha="center", va="center", transform=axes.transAxes)
        return
    for row, method in enumerate(style.order):
        seeds = values.loc[values["method"] == method, metric].to_numpy(dtype=float)
        if not len(seeds):
            continue
        told, colour = style.told[method], style.colours[method]
        mean, std = seeds.mean(), seeds.std(ddof=1) if len(seeds) > 1 else 0.0
        if told:
            axes.axvline(mean, ls="--", lw=1.0, color=_TOLD_COLOUR, zorder=1)
        marker = _CEILING_MARKER if told else {"marker": "o"}
        axes.errorbar(mean, row, xerr=std, color=colour, markersize=6, capsize=3, zorder=3, **marker)
        dots = "0.35" if told else colour
        axes.scatter(seeds, np.full(len(seeds), row + _SEED_OFFSET), s=9, color=dots, alpha=0.6, lw=0, zorder=2)


# ---------------------------------------------------------------- factors: per-factor R² / accuracy per method


def write_factor_figure(
    experiment: str, tables_dir: str | Path, figure_config: dict[str, Any], out_dir: str | Path
) -> list[Path]:
    """Write ``factors``: per dataset, a heat-map of each factor's score per method (mean over seeds) — kernel R² for
    continuous factors, logistic-regression accuracy for discrete ones — from ``factors.csv`` and ``runs.csv``."""
    runs = _read_table(Path(tables_dir) / "runs.csv", experiment)
    factors = _read_table(Path(tables_dir) / "factors.csv", experiment)
    runs["told_pattern"] = runs["told_pattern"].astype(str).str.lower().eq("true")
    style = MethodStyle.from_runs(runs)
    datasets = sorted(factors["dataset"].unique())
    heights = [factors.loc[factors["dataset"] == d, "latent"].nunique() for d in datasets]
    with _plot_style(figure_config["context"]):
        figure = _new_figure(4.2 + 1.3 * len(style.order), 1.2 + 0.42 * sum(heights) + 1.0 * len(datasets))
        axes = figure.subplots(len(datasets), 1, height_ratios=heights, squeeze=False)[:, 0]
        for ax, dataset in zip(axes, datasets, strict=True):
            table = factors[factors["dataset"] == dataset]
            methods = [m for m in style.order if m in set(table["method"])]
            matrix = table.pivot(index="latent", columns="method", values="score_mean").reindex(columns=methods)
            described = table.drop_duplicates("latent").set_index("latent")
            rows = [
                f"{described.at[j, 'factor']} · {'acc' if described.at[j, 'score_kind'] == 'accuracy' else 'R²'}"
                f" · {described.at[j, 'class']} {described.at[j, 'signature']}"
                for j in matrix.index
            ]
            values = matrix.to_numpy(dtype=float)
            _heatmap(ax, np.clip(values, 0.0, 1.0), "viridis", [style.label(m) for m in methods], rows)
            texts = np.where(np.isnan(values), "", np.char.mod("%.2f", np.nan_to_num(values)))
            _annotate(ax, texts, np.where(values < 0.6, "white", "black"))
            ax.set_title(dataset)
        figure.colorbar(axes[0].collections[0], ax=list(axes), label="kernel R² (continuous) / accuracy (discrete)")
        figure.suptitle(f"{experiment}: per-factor score (mean over seeds)")
        return _save(figure, Path(out_dir), "factors", figure_config)


# ---------------------------------------------------------------- samples: images of a shapes-text dataset


def write_sample_grid(
    data_dir: str | Path, figure_config: dict[str, Any], out_dir: str | Path, rows: int = 4, columns: int = 4
) -> list[Path]:
    """Write ``samples``: the first rows × columns test images of a shapes-text dataset, each above its caption."""
    from mmcrl.data.shapes_text import detokenise
    from mmcrl.data.synthetic import load_dataset

    dataset = load_dataset(data_dir)
    if dataset.ground_truth.get("kind") != "shapes-text":
        raise ValueError(f"{data_dir}: not a shapes-text dataset (kind {dataset.ground_truth.get('kind')!r})")
    _, (images, tokens) = dataset.split("test")
    side = dataset.ground_truth["image"]["size"]
    with _plot_style(figure_config["context"]):
        figure = _new_figure(2.4 * columns, 2.9 * rows)
        for index, ax in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
            ax.imshow(images[index].reshape(3, side, side).transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            words = detokenise(tokens[index]).split()
            ax.set_xlabel("\n".join((" ".join(words[:4]), " ".join(words[4:8]), " ".join(words[8:]))), fontsize=8)
        figure.suptitle(f"{dataset.ground_truth['dataset']}: test images and their captions")
        return _save(figure, Path(out_dir), "samples", figure_config)
