"""The tiny study on a real single-node SLURM cluster (scripts/local_slurm_cluster.sh) through profiles/slurm.

Run with `pytest -m slurm` (deselected by default): it needs root, and apt-get when slurm-wlm is not installed. This
machine has no GPU, so the test's copy of the profile requests none for training (``set-resources: train: gpu: 0``)
and checks the cluster more often than a real cluster needs; every other setting is the project's profile.
"""

import importlib.util
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from study import ONE_DATASET, ROOT, copy_study, job_counts, snakemake

pytestmark = pytest.mark.slurm
SCRIPT = ROOT / "scripts" / "local_slurm_cluster.sh"


@pytest.fixture(scope="module")
def cluster():
    """Start the local cluster for the module's tests, stop it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root: it installs slurm-wlm and munge and starts their daemons")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("slurm-wlm is not installed and apt-get is not available to install it")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("snakemake-executor-plugin-slurm is missing: pip install -e '.[slurm]'")
    started = subprocess.run([SCRIPT, "start"], capture_output=True, text=True, timeout=900)
    assert started.returncode == 0, f"the local SLURM cluster did not start: {started.stderr[-2000:]}"
    yield
    subprocess.run([SCRIPT, "stop"], check=True, timeout=120)


def test_the_tiny_study_runs_through_sbatch(cluster, tmp_path):
    workdir = copy_study(tmp_path / "study", experiments=ONE_DATASET)
    profile_path = workdir / "profiles" / "slurm" / "profile.yaml"
    profile = yaml.safe_load(profile_path.read_text())
    profile["set-resources"]["train"]["gpu"] = 0
    profile["slurm-init-seconds-before-status-checks"] = 5
    profile_path.write_text(yaml.safe_dump(profile))

    result = snakemake(workdir, "--profile", "profiles/slurm")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    declared = (ROOT / "Snakefile").read_text().split("localrules:")[1].split("\n\n")[0]
    local = {name.strip(" ,") for name in declared.split()}  # the Snakefile's localrules run on the submit host
    cluster_jobs = sum(count for rule, count in job_counts(output).items() if rule not in local)
    slurm_ids = set(re.findall(r"has been submitted with SLURM jobid (\d+)", output))
    assert cluster_jobs == 5 and len(slurm_ids) == cluster_jobs, (
        "every synthesize/train/recover/evaluate job is sbatch'ed"
    )
    runs = pd.read_csv(workdir / "reports/tables/runs.csv")
    assert sorted(runs["method"]) == ["mcl", "oracle"] and runs["mcc"].between(0, 1).all()
    assert (workdir / "reports/figures/tiny/mcc.png").stat().st_size > 5_000
    assert (workdir / "reports/report.html").stat().st_size > 100_000
