"""Record a finished manual run in DVC (dvc.lock), so that `dvc status` is clean after `snakemake`."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import yaml

from mmcrl.config import validate_config


def runs_the_dvc_stage():
    """True when this run is what dvc.yaml's stage runs: `snakemake` on config/config.yaml, no --config overrides."""
    with open("config/config.yaml") as stream:
        return validate_config(yaml.safe_load(stream)) == dict(config)


def record_in_dvc():
    """`dvc commit` the outputs of a complete study run by hand; log one line instead when it cannot or must not.

    Skipped when DVC itself runs the stage (it sets DVC_STAGE and records the outputs when the command ends), when
    this directory is not a DVC repository, when dvc is not installed, and when the run used another config than
    config/config.yaml (the stage's params), whose outputs DVC must not record as the stage's.
    """
    if os.environ.get("DVC_STAGE"):
        return
    if not (Path(".dvc").is_dir() and Path("dvc.yaml").is_file()):
        print("DVC: not a DVC repository (no .dvc/ or dvc.yaml here); the outputs are not recorded")
    elif importlib.util.find_spec("dvc") is None:
        print("DVC: dvc is not installed; the outputs are not recorded in dvc.lock")
    elif not runs_the_dvc_stage():
        print("DVC: this run used another config than config/config.yaml; its outputs are not recorded in dvc.lock")
    else:
        print("DVC: recording the outputs in dvc.lock (dvc commit)")
        command = [sys.executable, "-m", "dvc", "commit", "--force", "--quiet"]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"DVC: dvc commit failed ({reason}); run `dvc commit` by hand")
