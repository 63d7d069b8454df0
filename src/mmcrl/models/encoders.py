"""Encoders f_m: observations of modality m → R^{k_m}, looked up by the modality's encoder kind."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def mlp_encoder(input_dim: int, output_dim: int, width: int, depth: int) -> nn.Sequential:
    """An MLP with ``depth`` hidden LeakyReLU layers of size ``width`` and a linear output layer."""
    layers: list[nn.Module] = []
    previous = input_dim
    for _ in range(depth):
        layers += [nn.Linear(previous, width), nn.LeakyReLU(0.2)]
        previous = width
    layers.append(nn.Linear(previous, output_dim))
    return nn.Sequential(*layers)


ENCODERS: dict[str, Callable[[int, int, int, int], nn.Module]] = {"mlp": mlp_encoder}


def build_encoder(kind: str, input_dim: int, output_dim: int, width: int, depth: int) -> nn.Module:
    """The encoder of kind ``kind`` (a key of :data:`ENCODERS`): ``input_dim`` observed → ``output_dim`` coordinates."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder kind {kind!r}; registered: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[kind](input_dim, output_dim, width, depth)
