"""The paper-style comparison table: mean ± std over seeds, the best method not told the pattern in bold."""

import pandas as pd
import pytest

from mmcrl.aggregate import comparison_cells, comparison_latex, comparison_markdown, write_comparison


def runs() -> pd.DataFrame:
    rows = []
    for seed, (ours, theirs, oracle) in enumerate([(0.8, 0.5, 0.95), (0.9, 0.7, 0.97)]):
        for method, told, value in [("ours", "nothing", ours), ("theirs", "sizes", theirs), ("oracle", "all", oracle)]:
            rows.append(
                {
                    "experiment": "e",
                    "dataset": "d1",
                    "method": method,
                    "seed": seed,
                    "told": told,
                    "told_pattern": method == "oracle",
                    "mcc_identifiable": value,
                    "r2_kernel": 1.0 - value,
                    "structure_f1": None if method == "theirs" else value,
                }
            )
    duplicate = dict(rows[0], experiment="f", mcc_identifiable=0.0)  # the same run in a later experiment: ignored
    return pd.DataFrame([*rows, duplicate])


def test_comparison_cells_average_seeds_and_mark_the_best_competitor():
    cells = comparison_cells(runs()).set_index("method")
    assert cells.loc["ours", "mcc_identifiable_mean"] == pytest.approx(0.85)
    assert round(cells.loc["ours", "mcc_identifiable_std"], 4) == round(pd.Series([0.8, 0.9]).std(), 4)
    assert cells.loc["ours", "n_seeds"] == 2
    assert cells.loc["ours", "mcc_identifiable_best"] and not cells.loc["oracle", "mcc_identifiable_best"]
    assert cells.loc["theirs", "r2_kernel_best"] and not cells.loc["ours", "r2_kernel_best"]
    assert not cells.loc["theirs", "structure_f1_best"]


def test_comparison_markdown_and_latex_show_told_bold_and_missing_cells():
    cells = comparison_cells(runs())
    markdown = comparison_markdown(cells).splitlines()
    assert markdown[0] == "| method | told | d1: MCC id. | d1: R² kernel | d1: structure F1 |"
    assert markdown[2] == "| ours | nothing | **0.85 ± 0.07** | 0.15 ± 0.07 | **0.85 ± 0.07** |"
    assert markdown[3] == "| theirs | sizes | 0.60 ± 0.14 | **0.40 ± 0.14** | – |"
    assert markdown[4].startswith("| oracle | all | 0.96 ± 0.01 |")  # told the pattern: last, never bold
    latex = comparison_latex(cells)
    assert r"ours & nothing & \textbf{0.85 $\pm$ 0.07} & 0.15 $\pm$ 0.07" in latex
    assert r"\multicolumn{3}{c}{d1}" in latex and latex.rstrip().endswith(r"\end{tabular}")


def _run(experiment: str, dataset: str, method: str, seed: int, mcc: float) -> dict:
    return {
        "experiment": experiment,
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "told": "true pattern" if method == "oracle" else "nothing",
        "told_pattern": method == "oracle",
        "mcc_identifiable": mcc,
        "r2_kernel": 1.0 - mcc,
        "structure_f1": 0.5,
    }


def test_comparison_holds_only_the_comparison_experiment_when_there_is_one(tmp_path):
    rows = [
        _run("comparison", "d1", method, seed, 0.5 + 0.1 * seed) for method in ("ours", "oracle") for seed in (0, 1)
    ]
    rows += [_run("ablation", "d1", method, seed, 0.9) for method in ("ours", "ours-variant") for seed in (0, 1, 2)]
    rows += [_run("realistic", "pics", "ours", 0, 0.3)]
    cells = comparison_cells(pd.DataFrame(rows))
    assert cells[["method", "dataset"]].values.tolist() == [["oracle", "d1"], ["ours", "d1"]]
    ours = cells.set_index("method").loc["ours"]
    assert ours["n_seeds"] == 2 and ours["mcc_identifiable_mean"] == pytest.approx(0.55)
    write_comparison(pd.DataFrame(rows), tmp_path)
    markdown = (tmp_path / "comparison.md").read_text()
    assert markdown.startswith("# Comparison (comparison): ")
    assert "ours-variant" not in markdown and "pics" not in markdown and "0.90" not in markdown
    assert (tmp_path / "comparison.tex").read_text().startswith("% experiment: comparison;")
    without = [row for row in rows if row["experiment"] != "comparison"]  # no such experiment: every run counts
    assert set(comparison_cells(pd.DataFrame(without))["method"]) == {"ours", "ours-variant"}


def test_bold_marks_the_best_method_not_told_the_pattern_per_dataset_and_metric():
    # hand-checked means (seeds v and v + 0.02): MCC id. d1 a 0.61 < b 0.71, d2 a 0.81 > b 0.41; R² = 1 − MCC, so its
    # best is the other method; F1 ties at 0.5 (both bold); the oracle is never bold, even where it is highest
    rows = [
        _run("comparison", dataset, method, seed, value + 0.01 * seed)
        for dataset, values in (
            ("d1", {"a": 0.6, "b": 0.7, "oracle": 0.9}),
            ("d2", {"a": 0.8, "b": 0.4, "oracle": 1.0}),
        )
        for method, value in values.items()
        for seed in (0, 2)
    ]
    lines = comparison_markdown(comparison_cells(pd.DataFrame(rows))).splitlines()
    assert [line.split(" | ")[2:] for line in lines[2:]] == [
        ["0.61 ± 0.01", "**0.39 ± 0.01**", "**0.50 ± 0.00**", "**0.81 ± 0.01**", "0.19 ± 0.01", "**0.50 ± 0.00** |"],
        ["**0.71 ± 0.01**", "0.29 ± 0.01", "**0.50 ± 0.00**", "0.41 ± 0.01", "**0.59 ± 0.01**", "**0.50 ± 0.00** |"],
        ["0.91 ± 0.01", "0.09 ± 0.01", "0.50 ± 0.00", "1.01 ± 0.01", "-0.01 ± 0.01", "0.50 ± 0.00 |"],
    ]
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| a", "nothing"],
        ["| b", "nothing"],
        ["| oracle", "true pattern"],
    ]
