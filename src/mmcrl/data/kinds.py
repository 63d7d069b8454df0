"""Dataset kinds: the config key ``datasets.<name>.kind`` picks the generator (synthetic when absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmcrl.data import shapes_text, synthetic

DatasetSpec = synthetic.SyntheticSpec | shapes_text.ShapesTextSpec
SPEC_CLASSES: dict[str, type[synthetic.SyntheticSpec] | type[shapes_text.ShapesTextSpec]] = {
    "synthetic": synthetic.SyntheticSpec,
    "shapes-text": shapes_text.ShapesTextSpec,
}


def spec_from_config(name: str, entry: dict[str, Any]) -> DatasetSpec:
    """The spec of a validated ``datasets.<name>`` entry, of the class its kind names."""
    return SPEC_CLASSES[entry.get("kind", "synthetic")].from_config(name, entry)


def write_dataset(spec: DatasetSpec, seed: int, out_dir: str | Path) -> Path:
    """Generate replicate ``seed`` of the dataset and write it to ``out_dir``; returns the manifest path."""
    if isinstance(spec, shapes_text.ShapesTextSpec):
        return shapes_text.write_dataset(spec, seed, out_dir)
    return synthetic.write_dataset(spec, seed, out_dir)
