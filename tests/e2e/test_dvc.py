"""DVC records the workflow: a manual `snakemake` leaves the DVC stage up to date, a fresh clone pulls the outputs
and has nothing to do, `dvc exp run -S` on a training key reruns training and what follows only, and a run of another
config is not recorded as the stage's."""

import json
import subprocess
from pathlib import Path

import pytest
from study import ONE_DATASET, copy_study, job_counts, run, snakemake

# the jobs a change of a training hyperparameter reruns on the tiny study: training and what follows, never the data
RETRAINED = {"train": 2, "recover": 1, "evaluate": 1, "aggregate": 1, "figures": 1, "factor_figure": 1, "all": 1}

DVC_FILES = (".dvc/config", ".dvc/.gitignore", ".dvcignore", "dvc.yaml", ".gitignore", "reports/.gitignore")


def git(workdir: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=workdir, check=True, capture_output=True)


def dvc(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    result = run(["dvc", *args], workdir)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed: {result.stderr[-2000:]}"
    return result


def commit_everything(workdir: Path, message: str) -> None:
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git repository holding the workflow, DVC's files and the tiny config, after one manual `snakemake`."""
    workdir = copy_study(tmp_path_factory.mktemp("dvc") / "repo", DVC_FILES, experiments=ONE_DATASET)
    git(workdir, "init", "-q")
    git(workdir, "config", "user.name", "mmcrl test")
    git(workdir, "config", "user.email", "test@mmcrl.invalid")
    commit_everything(workdir, "workflow")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DVC: recording the outputs in dvc.lock" in result.stdout + result.stderr
    return workdir


@pytest.mark.e2e
def test_after_a_manual_run_dvc_is_up_to_date_and_repro_does_nothing(repo):
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}
    assert "Stage 'study' didn't change, skipping" in dvc(repo, "repro").stdout
    result = snakemake(repo, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr, "dvc commit disturbed the outputs' times"


@pytest.mark.e2e
def test_a_fresh_clone_pulls_the_outputs_and_has_nothing_to_do(repo):
    commit_everything(repo, "study results")
    dvc(repo, "push")
    clone = repo.parent / "clone"  # a sibling: the default remote ../mmcrl-dvc-remote is the same folder
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    dvc(clone, "pull")
    assert (clone / "results/tiny/pair2/mcl/seed0/model.pt").exists()
    assert snakemake(clone, "--touch", "--forceall").returncode == 0
    result = snakemake(clone, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
    assert "missing provenance" not in result.stdout + result.stderr
    assert json.loads(dvc(clone, "status", "--json").stdout) == {}
    assert job_counts(snakemake(clone, "-n", "--config", "training={steps: 21}").stdout) == RETRAINED


@pytest.mark.e2e
def test_dvc_exp_run_on_a_training_key_reruns_training_and_what_follows_only(repo):
    result = dvc(repo, "exp", "run", "-S", "config/config.yaml:training.steps=21")
    assert job_counts(result.stdout + result.stderr) == RETRAINED
    assert "DVC: recording" not in result.stdout + result.stderr, "the hook must leave recording to `dvc exp run`"
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}
    changed = json.loads(dvc(repo, "metrics", "diff", "--json").stdout)["reports/metrics.json"]
    assert any(not name.endswith("train_seconds") for name in changed), "no metric of the retrained models changed"


@pytest.mark.e2e
def test_a_run_of_another_config_is_not_recorded_as_the_stage(repo):
    result = snakemake(repo, "--config", "figures={dpi: 90}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DVC: this run used another config than config/config.yaml" in result.stdout + result.stderr
    assert json.loads(dvc(repo, "status", "--json").stdout) != {}, "DVC must see outputs that its params did not make"
