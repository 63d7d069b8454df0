"""Synthetic partial-sharing datasets: the generative model of DESIGN §1, written to disk with its ground truth.

One dataset *spec* (from the config) fixes the sharing pattern and the generator's knobs; each replicate ``seed``
draws a fresh DAG, mechanisms, mixing maps and samples from seeds derived from (dataset name, seed). The pattern
itself never depends on the replicate seed (a random pattern has its own ``seed`` in the spec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmcrl import __version__
from mmcrl.data.mixing import apply_mixing, condition_numbers, random_mixing
from mmcrl.data.patterns import pattern_from_subsets, random_pattern, subsets_from_pattern
from mmcrl.data.scm import NOISE_FAMILIES, random_dag, sample_latents
from mmcrl.io import derive_seed, file_sha256, read_arrays, read_json, write_arrays, write_json

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SyntheticSpec:
    """A named synthetic dataset: pattern, DAG density, causal strength, noise, mixing and split sizes."""

    name: str
    n_latents: int
    pattern: Any
    edge_probability: float
    causal_strength: float
    noise: Any
    mixing_layers: int
    undercomplete_ratio: float
    observed_dims: Any
    negative_slope: float
    mixing_candidates: int
    observation_noise: float
    n_train: int
    n_val: int
    n_test: int

    @classmethod
    def from_config(cls, name: str, entry: dict[str, Any]) -> SyntheticSpec:
        """Build from a validated config entry ``datasets.<name>`` (defaults already filled in)."""
        return cls(
            name=name,
            n_latents=entry["n_latents"],
            pattern=entry["pattern"],
            edge_probability=entry["dag"]["edge_probability"],
            causal_strength=entry["dag"]["causal_strength"],
            noise=entry["noise"],
            mixing_layers=entry["mixing"]["layers"],
            undercomplete_ratio=entry["mixing"]["undercomplete_ratio"],
            observed_dims=entry["mixing"].get("observed_dims"),
            negative_slope=entry["mixing"]["negative_slope"],
            mixing_candidates=entry["mixing"]["candidates"],
            observation_noise=entry["observation_noise"],
            n_train=entry["n_train"],
            n_val=entry["n_val"],
            n_test=entry["n_test"],
        )

    def sharing_pattern(self) -> np.ndarray:
        """The M × N pattern A: explicit subsets, or drawn from the spec's own pattern seed."""
        if isinstance(self.pattern, list):
            return pattern_from_subsets(self.pattern, self.n_latents)
        rng = np.random.default_rng(derive_seed("pattern", self.name, self.pattern["seed"]))
        return random_pattern(
            self.n_latents,
            self.pattern["n_modalities"],
            self.pattern["n_shared"],
            self.pattern["unique_signatures"],
            rng,
        )

    def noise_families(self) -> list[str]:
        """The noise family of each latent (one name for all, or one per latent)."""
        families = [self.noise] * self.n_latents if isinstance(self.noise, str) else list(self.noise)
        if len(families) != self.n_latents:
            raise ValueError(f"noise lists {len(families)} families for {self.n_latents} latents")
        for family in families:
            if family not in NOISE_FAMILIES:
                raise ValueError(f"unknown noise family {family!r}; allowed: {', '.join(NOISE_FAMILIES)}")
        return families

    def observed_dimensions(self) -> list[int]:
        """d_m per modality: given explicitly, or ⌈ratio · |S_m|⌉; each must exceed |S_m| (undercomplete)."""
        sizes = self.sharing_pattern().sum(axis=1).tolist()
        if self.observed_dims is None:
            dims = [max(size + 1, math.ceil(self.undercomplete_ratio * size)) for size in sizes]
        else:
            dims = list(self.observed_dims)
            if len(dims) != len(sizes):
                raise ValueError(f"observed_dims lists {len(dims)} dimensions for {len(sizes)} modalities")
        for modality, (dim, size) in enumerate(zip(dims, sizes, strict=True)):
            if dim <= size:
                raise ValueError(f"modality {modality}: observed dimension {dim} must exceed its {size} latents")
        return dims

    def check(self) -> None:
        """Raise ``ValueError`` with one sentence if the spec cannot generate a valid dataset."""
        self.sharing_pattern()
        self.noise_families()
        self.observed_dimensions()


def generate(spec: SyntheticSpec, seed: int) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Draw one replicate: the splits {split: {"z": n × N, "x0": n × d_0, ...}} and the ground truth record."""
    pattern = spec.sharing_pattern()
    subsets = subsets_from_pattern(pattern)
    dims = spec.observed_dimensions()
    seeds = {part: derive_seed(spec.name, seed, part) for part in ("dag", "mechanism", "noise", "mixing", "split")}
    adjacency, order = random_dag(spec.n_latents, spec.edge_probability, np.random.default_rng(seeds["dag"]))
    n_total = spec.n_train + spec.n_val + spec.n_test
    latents = sample_latents(
        adjacency,
        order,
        spec.noise_families(),
        spec.causal_strength,
        n_total,
        np.random.default_rng(seeds["mechanism"]),
        np.random.default_rng(seeds["noise"]),
    )
    mixing_rng = np.random.default_rng(seeds["mixing"])
    observations, conditions = [], []
    for subset, dim in zip(subsets, dims, strict=True):
        weights = random_mixing(len(subset), dim, spec.mixing_layers, spec.mixing_candidates, mixing_rng)
        mixed = apply_mixing(weights, latents[:, subset], spec.negative_slope)
        mixed = (mixed - mixed.mean(axis=0)) / mixed.std(axis=0)
        if spec.observation_noise > 0:
            mixed = mixed + spec.observation_noise * mixing_rng.standard_normal(mixed.shape)
        observations.append(mixed.astype(np.float32))
        conditions.append(condition_numbers(weights))
    bounds = np.cumsum([0, spec.n_train, spec.n_val, spec.n_test])
    splits = {
        split: {"z": latents[start:stop].astype(np.float32)}
        | {f"x{m}": observed[start:stop] for m, observed in enumerate(observations)}
        for split, start, stop in zip(SPLITS, bounds[:-1], bounds[1:], strict=True)
    }
    ground_truth = {
        "kind": "synthetic",
        "dataset": spec.name,
        "seed": seed,
        "n_latents": spec.n_latents,
        "sharing_pattern": pattern.tolist(),
        "subsets": subsets,
        "observed_dims": dims,
        "adjacency": adjacency.tolist(),
        "topological_order": order.tolist(),
        "noise": spec.noise_families(),
        "causal_strength": spec.causal_strength,
        "mixing": {
            "layers": spec.mixing_layers,
            "negative_slope": spec.negative_slope,
            "condition_numbers": conditions,
            "observation_noise": spec.observation_noise,
        },
        "derived_seeds": seeds,
        "split_sizes": {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test},
    }
    return splits, ground_truth


def write_dataset(spec: SyntheticSpec, seed: int, out_dir: str | Path) -> Path:
    """Generate and write ``<split>.npz``, ``ground_truth.json`` and, last, ``manifest.json`` (content hashes)."""
    splits, ground_truth = generate(spec, seed)
    return save_dataset(out_dir, splits, ground_truth)


def save_dataset(out_dir: str | Path, splits: dict[str, dict[str, np.ndarray]], ground_truth: dict[str, Any]) -> Path:
    """Write ``<split>.npz``, ``ground_truth.json`` and, last, ``manifest.json`` (content hashes) of any dataset."""
    out_dir = Path(out_dir)
    files = [write_arrays(out_dir / f"{split}.npz", arrays) for split, arrays in splits.items()]
    files.append(write_json(out_dir / "ground_truth.json", ground_truth))
    manifest = {"mmcrl_version": __version__, "files": {path.name: file_sha256(path) for path in files}}
    return write_json(out_dir / "manifest.json", manifest)


@dataclass(frozen=True)
class Dataset:
    """A dataset on disk: ground truth and lazily read splits."""

    root: Path
    ground_truth: dict[str, Any]

    @property
    def sharing_pattern(self) -> np.ndarray:
        return np.asarray(self.ground_truth["sharing_pattern"], dtype=np.int64)

    @property
    def n_modalities(self) -> int:
        return self.sharing_pattern.shape[0]

    def split(self, name: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """(z, [x_0, ..., x_{M-1}]) of split ``name``."""
        arrays = read_arrays(self.root / f"{name}.npz")
        return arrays["z"], [arrays[f"x{m}"] for m in range(self.n_modalities)]


def load_dataset(root: str | Path) -> Dataset:
    """Open a dataset directory written by :func:`write_dataset`, checking the manifest's hashes."""
    root = Path(root)
    if not (root / "manifest.json").exists():
        raise ValueError(f"{root}: no dataset here (manifest.json is missing); run `mmcrl synthesize` first")
    manifest = read_json(root / "manifest.json")
    for name, digest in manifest["files"].items():
        if not (root / name).exists():
            raise ValueError(f"{root / name}: listed in the manifest but missing; re-run `mmcrl synthesize`")
        if file_sha256(root / name) != digest:
            raise ValueError(f"{root / name}: content differs from its manifest hash; re-run `mmcrl synthesize`")
    return Dataset(root=root, ground_truth=read_json(root / "ground_truth.json"))
