"""environment.yml: a conda-forge environment with Python 3.11 whose pip installs this package, with its extras,
from pyproject.toml, and repeats none of pyproject's dependencies."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pip_lines() -> list[str]:
    return next(item["pip"] for item in ENVIRONMENT["dependencies"] if isinstance(item, dict))


def test_it_is_a_conda_forge_python_3_11_environment_with_pip_only():
    """Nothing else from conda: every dependency comes from pyproject.toml through pip."""
    assert ENVIRONMENT["channels"] == ["conda-forge"]
    conda = [item for item in ENVIRONMENT["dependencies"] if isinstance(item, str)]
    assert sorted(conda) == ["pip", "python=3.11"]


def test_pip_installs_this_package_with_extras_that_pyproject_defines():
    """One pip line, the package itself: no requirement of pyproject.toml is repeated."""
    (line,) = pip_lines()
    match = re.fullmatch(r"-e \.\[([a-z,]+)\]", line)
    assert match, f"expected '-e .[extras]', got {line!r}"
    assert set(match.group(1).split(",")) <= set(PROJECT["optional-dependencies"])


def test_pip_resolves_the_line_to_this_package():
    (line,) = pip_lines()
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation", "--quiet"]
    result = subprocess.run(
        [*command, "--report", "-", *line.split()], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (install,) = json.loads(result.stdout)["install"]
    assert install["metadata"]["name"] == PROJECT["name"]
    assert sorted(install["requested_extras"]) == sorted(re.search(r"\[(.*)\]", line).group(1).split(","))
