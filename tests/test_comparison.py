"""The paper-style comparison table: mean ± std over seeds, the best method not told the pattern in bold."""

import pandas as pd
import pytest

from mmcrl.aggregate import comparison_cells, comparison_latex, comparison_markdown


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
