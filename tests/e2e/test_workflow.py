"""The Snakemake workflow end to end on a tiny config, and its rerun semantics."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from study import copy_study, jobs_to_run, snakemake

REQUIRED_COLUMNS = [
    "experiment",
    "dataset",
    "method",
    "seed",
    "mcc",
    "mcc_identifiable",
    "mcc_private",
    "mcc_spearman",
    "r2_linear",
    "r2_kernel",
    "r2_shared",
    "structure_f1",
    "structure_exact",
    "shd",
    "train_seconds",
    "downstream_acc_100",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    workdir = copy_study(tmp_path_factory.mktemp("study"))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DVC: not a DVC repository" in result.stdout + result.stderr  # the onsuccess hook skips, in one line
    return workdir


@pytest.mark.e2e
def test_the_study_writes_every_output(study):
    runs = pd.read_csv(study / "reports/tables/runs.csv")
    assert set(REQUIRED_COLUMNS) <= set(runs.columns)
    assert len(runs) == 4 and set(runs["method"]) == {"oracle", "mcl"}
    assert runs["mcc"].between(0, 1).all()
    for name in (
        *("tiny.csv", "tiny.md", "latents.csv", "comparison.md", "comparison.tex"),
        *("factors.csv", "downstream.csv", "downstream.md"),
    ):
        assert (study / "reports/tables" / name).stat().st_size > 100
    for name in ("mcc", "latents", "patterns", "comparison", "factors"):
        for fmt in ("png", "pdf"):
            assert (study / f"reports/figures/tiny/{name}.{fmt}").stat().st_size > 5_000
    assert (study / "reports/metrics.json").exists()
    assert (study / "reports/report.html").stat().st_size > 100_000
    report = (study / "reports/report.html").read_text(errors="ignore")
    assert "mcc.png" in report and "latents.csv" in report
    assert "Partial Latent Sharing" in report and "arXiv 2605.19135" in report  # the paper
    assert "kernel_max_fit" in report  # the config used, in full
    assert "System Message" not in report  # docutils' errors, e.g. two categories that differ only in case
    categories = json.loads(re.search(r"var categories = (\{.*?\});$", report, re.MULTILINE).group(1))
    assert categories["tiny"] == {
        "Summary table": ["reports/tables/tiny.csv"],
        "Identifiability": ["reports/figures/tiny/mcc.png"],
        "Per-latent recovery": ["reports/figures/tiny/latents.png"],
        "Structure recovery": ["reports/figures/tiny/patterns.png"],
        "Comparison figure": ["reports/figures/tiny/comparison.png"],
        "Per-factor scores": ["reports/figures/tiny/factors.png"],
    }
    assert categories["Paper comparison"] == {"Other": ["reports/tables/comparison.md"]}
    assert sorted(categories["All runs"]["Other"]) == ["reports/tables/latents.csv", "reports/tables/runs.csv"]
    assert (study / "logs/train/tiny/chain3/oracle/seed0.log").read_text().count("step") >= 1


@pytest.mark.e2e
def test_a_second_run_has_nothing_to_do(study):
    result = snakemake(study)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.e2e
def test_changes_rerun_only_what_depends_on_them(study):
    assert jobs_to_run(study, "--config", "figures={dpi: 90}") == {"figures", "factor_figure", "all"}
    assert jobs_to_run(study, "--config", "training={steps: 21}") == {
        "train",
        "recover",
        "evaluate",
        "aggregate",
        "figures",
        "factor_figure",
        "all",
    }
    assert jobs_to_run(study, "--config", "recover={min_correlation: 0.7}") == {
        "recover",
        "evaluate",
        "aggregate",
        "figures",
        "factor_figure",
        "all",
    }


@pytest.mark.e2e
def test_a_bad_config_stops_before_any_job_in_one_line(study):
    result = snakemake(study, "-n", "--config", "no_such_key=1")
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Config error")]
    assert errors == [
        "Config error: config key (top level): unknown key(s) 'no_such_key'; allowed: datasets, evaluation, "
        "experiments, figures, methods, recover, training"
    ]
    result = snakemake(study, "-n", "--config", "datasets={pair2: {n_latents: 6}}")
    assert "Config error: config key datasets.pair2: latent(s) [5] are seen by no modality" in result.stderr
