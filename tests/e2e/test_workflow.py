"""The Snakemake workflow end to end on a tiny config, and its rerun semantics."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
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
]
TINY = {
    "experiments": {"tiny": {"datasets": ["chain3", "pair2"], "methods": ["oracle", "mcl"], "seeds": [0]}},
    "datasets": {
        "chain3": {
            "n_latents": 6,
            "pattern": [[0, 2, 3], [0, 1, 2, 4], [1, 2, 5]],
            "n_train": 500,
            "n_val": 200,
            "n_test": 200,
            "mixing": {"candidates": 20},
        },
        "pair2": {
            "n_latents": 5,
            "pattern": [[0, 1, 2], [0, 3, 4]],
            "n_train": 500,
            "n_val": 200,
            "n_test": 200,
            "mixing": {"candidates": 20},
        },
    },
    "methods": {"oracle": {"method": "oracle"}, "mcl": {"method": "mcl"}},
    "training": {"steps": 20, "batch_size": 64, "width": 16, "depth": 1},
    "evaluation": {"kernel_max_fit": 100},
}


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run this environment's snakemake; its jobs find this environment's ``mmcrl`` on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"PATH": path},
    )


def jobs_to_run(workdir: Path, *args: str) -> set[str]:
    """The rules a dry run would execute (from its job-stats table)."""
    output = snakemake(workdir, "-n", *args).stdout
    if "Nothing to be done" in output:
        return set()
    table = output.split("Job stats:")[1].split("total")[0]
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("study")
    shutil.copy(ROOT / "Snakefile", workdir)
    for folder in ("workflow", "profiles"):
        shutil.copytree(ROOT / folder, workdir / folder, symlinks=True)
    (workdir / "src").symlink_to(ROOT / "src")
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(TINY))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.mark.e2e
def test_the_study_writes_every_output(study):
    runs = pd.read_csv(study / "reports/tables/runs.csv")
    assert set(REQUIRED_COLUMNS) <= set(runs.columns)
    assert len(runs) == 4 and set(runs["method"]) == {"oracle", "mcl"}
    assert runs["mcc"].between(0, 1).all()
    for name in ("tiny.csv", "tiny.md", "latents.csv", "comparison.md", "comparison.tex"):
        assert (study / "reports/tables" / name).stat().st_size > 100
    for name in ("mcc", "latents", "patterns"):
        for fmt in ("png", "pdf"):
            assert (study / f"reports/figures/tiny/{name}.{fmt}").stat().st_size > 5_000
    assert (study / "reports/metrics.json").exists()
    report = (study / "reports/report.html").read_text(errors="ignore")
    assert "mcc.png" in report and "arXiv 2605.19135" in report
    assert (study / "logs/train/tiny/chain3/oracle/seed0.log").read_text().count("step") >= 1


@pytest.mark.e2e
def test_a_second_run_has_nothing_to_do(study):
    result = snakemake(study)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.e2e
def test_changes_rerun_only_what_depends_on_them(study):
    assert jobs_to_run(study, "--config", "figures={dpi: 90}") == {"figures", "all"}
    assert jobs_to_run(study, "--config", "training={steps: 21}") == {
        "train",
        "recover",
        "evaluate",
        "aggregate",
        "figures",
        "all",
    }
    assert jobs_to_run(study, "--config", "recover={min_correlation: 0.7}") == {
        "recover",
        "evaluate",
        "aggregate",
        "figures",
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
