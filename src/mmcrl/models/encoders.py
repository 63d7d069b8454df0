"""Encoders f_m: observations of modality m → R^{k_m}, looked up by the modality's encoder kind.

Every encoder takes a batch of flat rows (B × d_m, any numeric dtype) and converts inside: ``cnn`` reads each row as
a uint8-valued RGB image in channel-major (3, H, W) order with d_m = 3·H·W, ``text`` reads each row as d_m token
ids of the shapes-text vocabulary. The ``cnn`` and ``text`` encoders end with a batch standardisation of each output
coordinate (BatchNorm without affine parameters: batch statistics in training, running ones in evaluation): their
inputs let every sample be told apart (pixel noise), so without it the uniformity term log E exp(−t‖u_k − u_l‖²)
drives the scale of the unaligned coordinates, and the loss, to −∞ (seen with oracle and wcrl).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from mmcrl.data.shapes_text import VOCABULARY


def mlp_encoder(input_dim: int, output_dim: int, width: int, depth: int) -> nn.Sequential:
    """An MLP with ``depth`` hidden LeakyReLU layers of size ``width`` and a linear output layer."""
    layers: list[nn.Module] = []
    previous = input_dim
    for _ in range(depth):
        layers += [nn.Linear(previous, width), nn.LeakyReLU(0.2)]
        previous = width
    layers.append(nn.Linear(previous, output_dim))
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """A small CNN for H × H RGB images stored flat (d = 3·H², H a power of two ≥ 8).

    x ↦ x / 255 − ½, a [3×3 conv, stride 1, c channels, LeakyReLU] at full resolution (fine detail: the shape),
    then log2(H / 4) blocks of [3×3 conv, stride 2, LeakyReLU] (channels 2c, 2c, ..., c = max(8, width / 8)) down
    to 4 × 4, then ``depth`` − 1 hidden LeakyReLU layers of size ``width`` on the flattened features and a linear
    output layer (at least one hidden layer), then the batch standardisation of the module docstring. The
    convolutions run channels-last, which halves their CPU time. (Dropping the full-resolution layer cut the
    step by another 2× but lost the shape: on tuning seeds the oracle's shape accuracy fell from 0.49 to 0.34.)
    """

    def __init__(self, input_dim: int, output_dim: int, width: int, depth: int) -> None:
        super().__init__()
        side = math.isqrt(input_dim // 3)
        if 3 * side * side != input_dim or side < 8 or side & (side - 1):
            raise ValueError(f"cnn encoder: input_dim {input_dim} is not 3·H·H with H a power of two ≥ 8")
        self.side = side
        channels = max(8, width // 8)
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.LeakyReLU(0.2)]
        previous, size = channels, side
        while size > 4:
            layers += [nn.Conv2d(previous, 2 * channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            previous, size = 2 * channels, size // 2
        self.features = nn.Sequential(*layers).to(memory_format=torch.channels_last)
        self.head = mlp_encoder(previous * size * size, output_dim, width, max(1, depth - 1))
        self.standardise = nn.BatchNorm1d(output_dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = x.to(torch.float32).reshape(-1, 3, self.side, self.side) / 255.0 - 0.5
        features = self.features(images.contiguous(memory_format=torch.channels_last))
        return self.standardise(self.head(features.contiguous().flatten(1)))


class TextEncoder(nn.Module):
    """Token ids (B × L) ↦ embedding (dimension 32) → two [1-D conv, kernel 3, ``width`` channels, LeakyReLU] →
    max over positions → ``depth`` − 1 hidden LeakyReLU layers of size ``width`` → linear output → batch
    standardisation."""

    embedding_dim = 32

    def __init__(self, input_dim: int, output_dim: int, width: int, depth: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCABULARY), self.embedding_dim, padding_idx=0)
        self.convolutions = nn.Sequential(
            nn.Conv1d(self.embedding_dim, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 3, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.head = mlp_encoder(width, output_dim, width, max(1, depth - 1))
        self.standardise = nn.BatchNorm1d(output_dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(x.to(torch.long)).transpose(1, 2)
        return self.standardise(self.head(self.convolutions(embedded).amax(dim=2)))


ENCODERS: dict[str, Callable[[int, int, int, int], nn.Module]] = {
    "mlp": mlp_encoder,
    "cnn": ImageEncoder,
    "text": TextEncoder,
}


def build_encoder(kind: str, input_dim: int, output_dim: int, width: int, depth: int) -> nn.Module:
    """The encoder of kind ``kind`` (a key of :data:`ENCODERS`): ``input_dim`` observed → ``output_dim`` coordinates."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder kind {kind!r}; registered: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[kind](input_dim, output_dim, width, depth)
