"""Encoders f_m: R^{d_m} → R^{k_m}."""

from __future__ import annotations

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
