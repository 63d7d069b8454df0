"""Helpers shared by the rules: config validation, paths, grids, config slices and code dependencies."""

import json
import sys
from pathlib import Path

from mmcrl.config import ConfigError, coerce_command_line_strings, experiment_training, validate_config

try:
    _validated = validate_config(coerce_command_line_strings(config))
except ConfigError as error:
    sys.exit(f"Config error: {error}")
config.clear()
config.update(_validated)

CODE = Path(workflow.basedir) / "src" / "mmcrl"

wildcard_constraints:
    experiment="[A-Za-z0-9][A-Za-z0-9_-]*",
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    method="[A-Za-z0-9][A-Za-z0-9_-]*",
    seed="[0-9]+",


def code(*patterns):
    """Library source files a stage depends on: editing them reruns the stage (and what follows)."""
    return sorted(str(path) for pattern in patterns for path in CODE.glob(pattern))


def config_slice(**sections):
    """The JSON given to a stage: only the config sections it reads, so the params trigger reruns exactly it."""
    return json.dumps(sections, sort_keys=True)


def dataset_dir(dataset, seed):
    return f"data/{dataset}/seed{seed}"


def run_dir(experiment, dataset, method, seed):
    return f"results/{experiment}/{dataset}/{method}/seed{seed}"


def runs(experiment):
    """Every (dataset, method, seed) of an experiment's grid."""
    grid = config["experiments"][experiment]
    return [(d, m, s) for d in grid["datasets"] for m in grid["methods"] for s in grid["seeds"]]


def seeds(experiment):
    return config["experiments"][experiment]["seeds"]


def grid_files(wildcards, name):
    """A file of every run (method × seed) of one dataset in an experiment."""
    grid = config["experiments"][wildcards.experiment]
    return [
        f"{run_dir(wildcards.experiment, wildcards.dataset, m, s)}/{name}" for m in grid["methods"] for s in grid["seeds"]
    ]


def grid_arguments(experiment):
    """The --method and --seed arguments of the commands that score every run of one dataset in one process."""
    grid = config["experiments"][experiment]
    return f"--method {' '.join(grid['methods'])} --seed {' '.join(map(str, grid['seeds']))}"


def metrics_files(experiment):
    """The metrics.json of every dataset of an experiment: one record per run (method × seed) in each."""
    return [f"results/{experiment}/{d}/metrics.json" for d in config["experiments"][experiment]["datasets"]]


def all_metrics_files():
    return [path for experiment in config["experiments"] for path in metrics_files(experiment)]


FIGURES = ("mcc", "latents", "patterns", "comparison")


def figure_files(experiment):
    return [
        f"reports/figures/{experiment}/{name}.{fmt}"
        for name in (*FIGURES, "factors")
        for fmt in config["figures"]["formats"]
    ]


def sample_grid_seed(dataset):
    """The lowest seed any experiment runs on a dataset (its sample grid shows that replicate)."""
    return min(s for e in config["experiments"] for d, _, s in runs(e) if d == dataset)


def sample_grid_files():
    """The sample-grid figures of every shapes-text dataset some experiment uses."""
    used = {d for e in config["experiments"] for d in config["experiments"][e]["datasets"]}
    return [
        f"reports/figures/datasets/{dataset}/samples.{fmt}"
        for dataset in sorted(used)
        if config["datasets"][dataset].get("kind") == "shapes-text"
        for fmt in config["figures"]["formats"]
    ]


TABLES = ["reports/tables/runs.csv", "reports/tables/latents.csv", "reports/metrics.json"]
TABLES += ["reports/tables/comparison.md", "reports/tables/comparison.tex"]
TABLES += [f"reports/tables/{name}" for name in ("factors.csv", "downstream.csv", "downstream.md")]
TABLES += [f"reports/tables/{experiment}.{ext}" for experiment in config["experiments"] for ext in ("csv", "md")]

if not config["experiments"]:
    sys.exit("Config error: config key experiments: no experiment is defined, so there is nothing to run")
