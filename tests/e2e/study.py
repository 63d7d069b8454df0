"""The tiny study the end-to-end tests run: its config, a copy of the workflow to run it in, and a snakemake runner."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
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
ONE_DATASET = {"tiny": {"datasets": ["pair2"], "methods": ["oracle", "mcl"], "seeds": [0]}}  # half the jobs
WORKFLOW_FILES = ("Snakefile", "workflow", "profiles", "src")


def copy_study(workdir: Path, extra_files: tuple[str, ...] = (), experiments: dict | None = None) -> Path:
    """Copy the workflow (and ``extra_files``) into ``workdir``, with config/config.yaml the tiny config (with
    ``experiments`` instead of its own grid when given).

    The jobs run this environment's ``mmcrl``; the copy of src/ is what the rules' code dependencies hash.
    """
    for name in WORKFLOW_FILES + extra_files:
        source, target = ROOT / name, workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, target)
    (workdir / "config").mkdir()
    config = TINY | {"experiments": experiments or TINY["experiments"]}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def run(command: list[str], workdir: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command of this environment (snakemake, dvc) in ``workdir``; its jobs find this environment's ``mmcrl``."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"PATH": path},
    )


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run this environment's snakemake on 2 cores."""
    return run(["snakemake", "--cores", "2", *args], workdir)


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats" table Snakemake prints before running (empty when nothing is to be done)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1].split("total")[0]
    return {line.split()[0]: int(line.split()[1]) for line in table.splitlines()[3:] if line.strip()}


def jobs_to_run(workdir: Path, *args: str) -> set[str]:
    """The rules a dry run would execute."""
    return set(job_counts(snakemake(workdir, "-n", *args).stdout))
