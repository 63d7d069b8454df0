"""``shapes-text``: a procedurally rendered image + caption dataset with known factors (Multimodal3DIdent in spirit).

Factors (the columns of z, in this order), with the modalities that see them (image = 0, text = 1):

==================  ==========  ===========================================  ==========
factor              type        values                                       seen by
==================  ==========  ===========================================  ==========
shape               discrete    triangle, square, pentagon, star             image, text
x                   continuous  [0, 1], left → right                         image, text
y                   continuous  [0, 1], top → bottom                         image, text
object_hue          continuous  [0, 0.8] (HSV hue; no wrap-around)           image, text
rotation            continuous  [−30°, 30°]                                      image
size                continuous  [0.14, 0.26] (circumradius / image side)         image
background_hue      continuous  [0, 0.8]                                         image
phrasing            discrete    one of the caption templates                     text
==================  ==========  ===========================================  ==========

**Causal model.** Each factor j has a normalised value u_j ∈ [0, 1] (continuous: (v − low)/(high − low); discrete:
(class + ½)/n). Along the DAG of the config (edges parent → child by name), in topological order,
u_j = s · mean_{p ∈ pa(j)} u_p + (1 − s) · ε_j with ε_j ~ U(0, 1) independent and s the causal strength (roots:
u_j = ε_j). A continuous factor is low + (high − low) · u_j, a discrete one ⌊n · u_j⌋.

**Image** (modality 0): a ``size`` × ``size`` RGB picture of one filled polygon (circumradius ``size``, turned by
``rotation``, centre at (x, y) inside a margin that keeps it whole) of HSV colour (object_hue, 0.9, 0.95) on a
background of HSV colour (background_hue, 0.45, 0.45), drawn at 4× resolution and box-filtered down
(anti-aliasing), then Gaussian pixel noise of std ``pixel_noise`` (fraction of full intensity). Stored as uint8,
channel-major (3, H, W) flattened to 3·H·W values per sample.

**Caption** (modality 1): template ``phrasing`` filled with the colour name (nearest of ten names whose hues are
evenly spaced over [0, 0.8]), the shape name and the position words (five vertical levels of y: top, upper,
middle, lower, bottom; five horizontal levels of x: far left, left, center, right, far right). Tokenised by
whitespace with the fixed :data:`VOCABULARY` (index 0 is padding) and right-padded to :data:`CAPTION_LENGTH`;
stored as int64.
"""

from __future__ import annotations

import colorsys
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mmcrl.data.synthetic import SPLITS, save_dataset
from mmcrl.io import derive_seed


@dataclass(frozen=True)
class Factor:
    """One generative factor: continuous on [low, high] or discrete with named classes."""

    name: str
    low: float = 0.0
    high: float = 1.0
    classes: tuple[str, ...] = ()

    @property
    def discrete(self) -> bool:
        return bool(self.classes)


SHAPES = ("triangle", "square", "pentagon", "star")
TEMPLATES = (
    "a {colour} {shape} at the {position}",
    "there is a {colour} {shape} in the {position} of the picture",
    "the {shape} in the {position} is {colour}",
    "{position} : {colour} {shape}",
)
FACTORS = (
    Factor("shape", classes=SHAPES),
    Factor("x"),
    Factor("y"),
    Factor("object_hue", 0.0, 0.8),
    Factor("rotation", -30.0, 30.0),
    Factor("size", 0.14, 0.26),
    Factor("background_hue", 0.0, 0.8),
    Factor("phrasing", classes=tuple(f"template{t}" for t in range(len(TEMPLATES)))),
)
FACTOR_NAMES = tuple(factor.name for factor in FACTORS)
SUBSETS = ([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 7])
ENCODER_KINDS = ("cnn", "text")
COLOUR_NAMES = ("red", "orange", "yellow", "lime", "green", "teal", "cyan", "azure", "blue", "violet")
VERTICAL_WORDS = ("top", "upper", "middle", "lower", "bottom")
HORIZONTAL_WORDS = ("far left", "left", "center", "right", "far right")
_SUPERSAMPLING = 4
_VERTICES = {"triangle": 3, "square": 4, "pentagon": 5, "star": 10}
_STAR_INNER_RADIUS = 0.45
_OBJECT_SATURATION_VALUE = (0.9, 0.95)
_BACKGROUND_SATURATION_VALUE = (0.45, 0.45)


def _all_captions_words() -> list[list[str]]:
    """The words of every possible caption (every template with every filler)."""
    return [
        template.format(colour=c, shape=s, position=f"{v} {h}").split()
        for template in TEMPLATES
        for c, s, v, h in itertools.product(COLOUR_NAMES, SHAPES, VERTICAL_WORDS, HORIZONTAL_WORDS)
    ]


VOCABULARY = ("<pad>", *sorted({word for words in _all_captions_words() for word in words}))
CAPTION_LENGTH = max(len(words) for words in _all_captions_words())
_TOKEN = {word: index for index, word in enumerate(VOCABULARY)}


@dataclass(frozen=True)
class ShapesTextSpec:
    """A named shapes-text dataset: image size, DAG edges between factors, causal strength, noise, split sizes."""

    name: str
    image_size: int
    dag: tuple[tuple[str, str], ...]
    causal_strength: float
    pixel_noise: float
    n_train: int
    n_val: int
    n_test: int

    @classmethod
    def from_config(cls, name: str, entry: dict[str, Any]) -> ShapesTextSpec:
        """Build from a validated config entry ``datasets.<name>`` of ``kind: shapes-text`` (defaults filled in)."""
        return cls(
            name=name,
            image_size=entry["image_size"],
            dag=tuple((parent, child) for parent, child in entry["dag"]),
            causal_strength=entry["causal_strength"],
            pixel_noise=entry["pixel_noise"],
            n_train=entry["n_train"],
            n_val=entry["n_val"],
            n_test=entry["n_test"],
        )

    def adjacency(self) -> np.ndarray:
        """A[i, j] = 1 iff factor i → factor j is an edge of the configured DAG."""
        adjacency = np.zeros((len(FACTORS), len(FACTORS)), dtype=np.int64)
        for parent, child in self.dag:
            for name in (parent, child):
                if name not in FACTOR_NAMES:
                    raise ValueError(f"dag names unknown factor {name!r}; factors: {', '.join(FACTOR_NAMES)}")
            if parent == child:
                raise ValueError(f"dag edge {parent} → {child} is a self-loop")
            adjacency[FACTOR_NAMES.index(parent), FACTOR_NAMES.index(child)] = 1
        return adjacency

    def topological_order(self) -> list[int]:
        """Factor indices parents-first (Kahn's algorithm, smallest index first); a cycle raises ``ValueError``."""
        adjacency = self.adjacency()
        indegree = adjacency.sum(axis=0)
        ready, order = sorted(np.flatnonzero(indegree == 0).tolist()), []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for child in np.flatnonzero(adjacency[node]).tolist():
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready = sorted([*ready, child])
        if len(order) < len(FACTORS):
            raise ValueError("dag has a cycle")
        return order

    def check(self) -> None:
        """Raise ``ValueError`` with one sentence if the spec cannot generate a valid dataset."""
        self.topological_order()


def sample_factors(spec: ShapesTextSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n × 8 factor values following the causal model of the module docstring."""
    adjacency = spec.adjacency()
    normalised = np.zeros((n, len(FACTORS)))
    values = np.zeros((n, len(FACTORS)))
    noise = rng.uniform(size=(n, len(FACTORS)))
    for j in spec.topological_order():
        parents = np.flatnonzero(adjacency[:, j])
        u = noise[:, j]
        if parents.size:
            u = spec.causal_strength * normalised[:, parents].mean(axis=1) + (1.0 - spec.causal_strength) * u
        factor = FACTORS[j]
        if factor.discrete:
            values[:, j] = np.minimum(np.floor(len(factor.classes) * u), len(factor.classes) - 1)
            normalised[:, j] = (values[:, j] + 0.5) / len(factor.classes)
        else:
            values[:, j] = factor.low + (factor.high - factor.low) * u
            normalised[:, j] = u
    return values


def _level(value: np.ndarray | float, n_levels: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Index of the equal-width bin of [low, high] holding ``value`` (n_levels bins)."""
    return np.clip(np.floor((np.asarray(value) - low) / (high - low) * n_levels), 0, n_levels - 1).astype(np.int64)


def colour_name(hue: float) -> str:
    """Nearest named colour: the ten names sit at the centres of ten equal bins of the hue range [0, 0.8]."""
    factor = FACTORS[FACTOR_NAMES.index("object_hue")]
    return COLOUR_NAMES[int(_level(hue, len(COLOUR_NAMES), factor.low, factor.high))]


def position_words(x: float, y: float) -> str:
    """The vertical word of y then the horizontal word(s) of x, e.g. ``"upper far left"``."""
    return f"{VERTICAL_WORDS[int(_level(y, 5))]} {HORIZONTAL_WORDS[int(_level(x, 5))]}"


def caption(factors: np.ndarray) -> str:
    """The caption of one sample's factor values."""
    named = dict(zip(FACTOR_NAMES, factors, strict=True))
    return TEMPLATES[int(named["phrasing"])].format(
        colour=colour_name(named["object_hue"]),
        shape=SHAPES[int(named["shape"])],
        position=position_words(named["x"], named["y"]),
    )


def tokenise(text: str) -> np.ndarray:
    """Token ids of ``text`` (whitespace words in :data:`VOCABULARY`), right-padded with 0 to CAPTION_LENGTH."""
    ids = [_TOKEN[word] for word in text.split()]
    return np.asarray(ids + [0] * (CAPTION_LENGTH - len(ids)), dtype=np.int64)


def detokenise(tokens: np.ndarray) -> str:
    """The caption text of a token array (padding dropped)."""
    return " ".join(VOCABULARY[int(t)] for t in np.asarray(tokens).ravel() if int(t) != 0)


def _rgb(hue: float, saturation_value: tuple[float, float]) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue, *saturation_value)
    return round(255 * red), round(255 * green), round(255 * blue)


def polygon(shape: str, centre: tuple[float, float], radius: float, degrees: float) -> list[tuple[float, float]]:
    """Vertices of a regular polygon (a 5-pointed star: 10 vertices, inner radius 0.45 r), first vertex up."""
    n = _VERTICES[shape]
    vertices = []
    for k in range(n):
        angle = math.radians(degrees) + 2 * math.pi * k / n - math.pi / 2
        r = radius * (_STAR_INNER_RADIUS if shape == "star" and k % 2 else 1.0)
        vertices.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    return vertices


def render(factors: np.ndarray, image_size: int) -> np.ndarray:
    """The noiseless image of one sample's factor values: uint8 array (3, H, W)."""
    named = dict(zip(FACTOR_NAMES, factors, strict=True))
    canvas = image_size * _SUPERSAMPLING
    margin = FACTORS[FACTOR_NAMES.index("size")].high
    centre = tuple(canvas * (margin + (1 - 2 * margin) * float(named[axis])) for axis in ("x", "y"))
    image = Image.new("RGB", (canvas, canvas), _rgb(float(named["background_hue"]), _BACKGROUND_SATURATION_VALUE))
    vertices = polygon(SHAPES[int(named["shape"])], centre, canvas * float(named["size"]), float(named["rotation"]))
    ImageDraw.Draw(image).polygon(vertices, fill=_rgb(float(named["object_hue"]), _OBJECT_SATURATION_VALUE))
    small = image.resize((image_size, image_size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)


def generate(spec: ShapesTextSpec, seed: int) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Draw one replicate: splits {split: {"z": n × 8, "x0": n × 3HW uint8, "x1": n × L int64}} and the ground truth."""
    seeds = {part: derive_seed(spec.name, seed, part) for part in ("factors", "pixel_noise")}
    n_total = spec.n_train + spec.n_val + spec.n_test
    factors = sample_factors(spec, n_total, np.random.default_rng(seeds["factors"]))
    images = np.stack([render(row, spec.image_size) for row in factors]).reshape(n_total, -1)
    noise = np.random.default_rng(seeds["pixel_noise"]).standard_normal(images.shape) * (255 * spec.pixel_noise)
    images = np.clip(np.rint(images + noise), 0, 255).astype(np.uint8)
    tokens = np.stack([tokenise(caption(row)) for row in factors])
    bounds = np.cumsum([0, spec.n_train, spec.n_val, spec.n_test])
    splits = {
        split: {"z": factors[start:stop].astype(np.float32), "x0": images[start:stop], "x1": tokens[start:stop]}
        for split, start, stop in zip(SPLITS, bounds[:-1], bounds[1:], strict=True)
    }
    return splits, ground_truth(spec, seed, seeds)


def ground_truth(spec: ShapesTextSpec, seed: int, seeds: dict[str, int]) -> dict[str, Any]:
    """The truth record: pattern, subsets, observed dims, encoder kinds, DAG, and every factor's type."""
    pattern = np.zeros((len(SUBSETS), len(FACTORS)), dtype=np.int64)
    for m, subset in enumerate(SUBSETS):
        pattern[m, subset] = 1
    factors = []
    for j, factor in enumerate(FACTORS):
        record: dict[str, Any] = {"name": factor.name, "modalities": np.flatnonzero(pattern[:, j]).tolist()}
        record["shared"] = len(record["modalities"]) >= 2
        if factor.discrete:
            record |= {"type": "discrete", "n_classes": len(factor.classes), "classes": list(factor.classes)}
        else:
            record |= {"type": "continuous", "range": [factor.low, factor.high]}
        factors.append(record)
    return {
        "kind": "shapes-text",
        "dataset": spec.name,
        "seed": seed,
        "n_latents": len(FACTORS),
        "sharing_pattern": pattern.tolist(),
        "subsets": [list(subset) for subset in SUBSETS],
        "observed_dims": [3 * spec.image_size**2, CAPTION_LENGTH],
        "encoder_kinds": list(ENCODER_KINDS),
        "factors": factors,
        "adjacency": spec.adjacency().tolist(),
        "topological_order": spec.topological_order(),
        "causal_strength": spec.causal_strength,
        "image": {"size": spec.image_size, "layout": "uint8 (3, H, W) flattened", "pixel_noise": spec.pixel_noise},
        "text": {
            "vocabulary": list(VOCABULARY),
            "caption_length": CAPTION_LENGTH,
            "templates": list(TEMPLATES),
            "colour_names": list(COLOUR_NAMES),
            "vertical_words": list(VERTICAL_WORDS),
            "horizontal_words": list(HORIZONTAL_WORDS),
        },
        "derived_seeds": seeds,
        "split_sizes": {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test},
    }


def write_dataset(spec: ShapesTextSpec, seed: int, out_dir: str | Path) -> Path:
    """Generate and write the splits, ``ground_truth.json`` and ``manifest.json`` like the synthetic datasets."""
    splits, truth = generate(spec, seed)
    return save_dataset(out_dir, splits, truth)
