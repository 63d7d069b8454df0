"""The hand-off from training to recovery and evaluation: a trained model's encodings of the held-out splits.

``mmcrl train`` encodes the validation and test splits once and writes them with what the method was told and its
training time (``encodings.npz``), so recovery and evaluation read arrays and never load the model (nor torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mmcrl.io import read_arrays, write_arrays

HELD_OUT = ("val", "test")


def write_encodings(path: str | Path, encodings: dict[str, list[np.ndarray]], info: dict[str, Any]) -> Path:
    """Write ``encodings[split][m]`` (n × k_m, for the splits in :data:`HELD_OUT`) and a JSON-able ``info``."""
    arrays = {f"{split}_{m}": h for split in HELD_OUT for m, h in enumerate(encodings[split])}
    return write_arrays(path, arrays | {"info": np.array(json.dumps(info, sort_keys=True))})


def read_encodings(path: str | Path) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """(encodings per held-out split, info) from :func:`write_encodings`' file; a bad file raises ``ValueError``."""
    arrays = read_arrays(path)
    if "info" not in arrays:
        raise ValueError(f"{path}: not an encodings file (no info); rerun `mmcrl train`")
    encodings = {
        split: [arrays[f"{split}_{m}"] for m in range(sum(name.startswith(f"{split}_") for name in arrays))]
        for split in HELD_OUT
    }
    return encodings, json.loads(arrays["info"].item())
