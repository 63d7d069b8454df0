"""The contract every method meets, and the shared machinery of the contrastive ones."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mmcrl.methods.losses import pairwise_alignment, uniformity
from mmcrl.models.correspondence import Correspondence
from mmcrl.models.encoders import build_encoder
from mmcrl.models.wasserstein import standardised


@dataclass(frozen=True)
class MethodContext:
    """What a method is given: observed dimensions d_m, learned dimensions k_m, each modality's encoder kind (a key
    of :data:`mmcrl.models.encoders.ENCODERS`; None: all ``mlp``), only for methods that declare ``told_pattern``
    the true sharing pattern, and only for methods that declare ``told_content_sizes`` the content sizes
    |∩_{m ∈ T} S_m| of every subset T of ≥ 2 modalities that share a latent (:func:`content_sizes`); ``steps``, the
    training budget T and ``lr`` its peak learning rate (None: unknown, e.g. a model saved before they were recorded).
    """

    observed_dims: list[int]
    latent_dims: list[int]
    width: int
    depth: int
    tau: float
    sharing_pattern: np.ndarray | None = None
    encoder_kinds: list[str] | None = None
    content_sizes: dict[tuple[int, ...], int] | None = None
    steps: int | None = None
    lr: float | None = None

    def encoder_kind(self, m: int) -> str:
        """The encoder kind of modality m."""
        return "mlp" if self.encoder_kinds is None else self.encoder_kinds[m]


def content_sizes(sharing_pattern: np.ndarray) -> dict[tuple[int, ...], int]:
    """|∩_{m ∈ T} S_m| for every subset T of ≥ 2 modalities (sorted tuple) whose intersection is non-empty."""
    pattern = np.asarray(sharing_pattern, dtype=bool)
    sizes = {}
    for size in range(2, pattern.shape[0] + 1):
        for subset in itertools.combinations(range(pattern.shape[0]), size):
            common = int(pattern[list(subset)].all(axis=0).sum())
            if common:
                sizes[subset] = common
    return sizes


class Method(nn.Module):
    """The contract of every method: built from a :class:`MethodContext` and its options (an unknown option is an
    error), ``forward(observations)`` → per-modality encodings [h_m ∈ R^{B × k_m}] (what recovery and evaluation
    use), and either ``training_loss(observations, progress)``, which the trainer minimises with Adam
    (``trainable``), or ``fit_data(observations, seed)``, which fits the method in one call (not ``trainable``).
    ``told`` says in words what the method is given beyond k_m; ``told_pattern`` / ``told_content_sizes`` make
    :func:`mmcrl.methods.build_method` pass the true pattern / the subsets' content sizes; ``searches_structure``
    (a method that learns the sharing pattern) makes :func:`mmcrl.train.fit` apply ``training.restarts``."""

    told: ClassVar[str] = "nothing"
    told_pattern: ClassVar[bool] = False
    told_content_sizes: ClassVar[bool] = False
    trainable: ClassVar[bool] = True
    searches_structure: ClassVar[bool] = False
    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__()
        unused = sorted(set(params) - set(self.option_names))
        if unused:
            used = ", ".join(self.option_names) or "none"
            raise ValueError(f"{type(self).__name__} does not use option(s) {', '.join(unused)}; it uses {used}")
        if self.told_pattern and context.sharing_pattern is None:
            raise ValueError(f"{type(self).__name__} needs the true sharing pattern")
        if self.told_content_sizes and context.content_sizes is None:
            raise ValueError(f"{type(self).__name__} needs the content sizes of the subsets of modalities")
        self.context = context

    def training_loss(self, observations: list[torch.Tensor], progress: float) -> torch.Tensor:
        """The objective the trainer minimises on one batch of observations; ``progress`` ∈ [0, 1) is the fraction
        of training done."""
        raise NotImplementedError

    def prepare_step(self, progress: float) -> bool:
        """Called by the trainer before each step's :meth:`training_loss`; True when the method has just reset its
        parameters, so that the trainer restarts the optimiser's moments. By default nothing happens."""
        return False

    def fit_data(self, observations: list[np.ndarray], seed: int) -> None:
        """Fit a method that is not ``trainable`` on the whole training split [x_m] in one call."""
        raise NotImplementedError


class ContrastiveMethod(Method):
    """One encoder per modality, trained with correspondence-weighted InfoNCE over every pair of modalities, plus an
    optional per-modality uniformity term:

    L = Σ_{a<b} InfoNCE_{W_ab}(f_a(x_a), f_b(x_b)) + λ Σ_m U(f_m(x_m)),

    where U is computed on the raw encodings, or with ``uniformity_standardised`` on the batch-standardised ones:
    then scaling a coordinate cannot buy spread and a coordinate that copies another (which collapses the
    standardised encoding onto fewer dimensions) is penalised, so only new information raises U's entropy.
    Subclasses say what the correspondence W_ab is (:meth:`correspondences`) and what they are told (``told``).
    """

    option_names: ClassVar[tuple[str, ...]] = ("tau", "uniformity_weight", "uniformity_standardised")
    default_uniformity_weight: ClassVar[float] = 0.0
    default_uniformity_standardised: ClassVar[bool] = False

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self.tau = float(params.get("tau", context.tau))
        self.uniformity_weight = float(params.get("uniformity_weight", self.default_uniformity_weight))
        self.uniformity_standardised = bool(params.get("uniformity_standardised", self.default_uniformity_standardised))
        self.encoders = nn.ModuleList(
            build_encoder(context.encoder_kind(m), d, k, context.width, context.depth)
            for m, (d, k) in enumerate(zip(context.observed_dims, context.latent_dims, strict=True))
        )
        self.pairs = list(itertools.combinations(range(len(self.encoders)), 2))

    def forward(self, observations: list[torch.Tensor]) -> list[torch.Tensor]:
        """Encodings [f_m(x_m)] of a batch."""
        return [encoder(x) for encoder, x in zip(self.encoders, observations, strict=True)]

    def correspondences(self, encodings: list[torch.Tensor], progress: float) -> list[Correspondence]:
        """(W_ab, s_ab) for every pair (a, b) in ``self.pairs`` on this batch, ``progress`` ∈ [0, 1) into training."""
        raise NotImplementedError

    def training_loss(self, observations: list[torch.Tensor], progress: float) -> torch.Tensor:
        return self.loss(self(observations), progress)

    def loss(self, encodings: list[torch.Tensor], progress: float) -> torch.Tensor:
        """The contrastive objective on one batch's encodings: alignment + λ Σ_m U(f_m(x_m))."""
        total = self.alignment(encodings, progress)
        weight = self.current_uniformity_weight()
        if weight > 0:
            spread = [standardised(u) if self.uniformity_standardised else u for u in encodings]
            total = total + weight * sum(uniformity(u) for u in spread)
        return total

    def current_uniformity_weight(self) -> float:
        """λ at this step (after :meth:`alignment` ran on it): ``uniformity_weight`` throughout, unless a subclass
        changes it during training."""
        return self.uniformity_weight

    def alignment(self, encodings: list[torch.Tensor], progress: float) -> torch.Tensor:
        """Σ_{a<b} InfoNCE_{W_ab, s_ab}(f_a(x_a), f_b(x_b)) with the correspondences of :meth:`correspondences`."""
        return pairwise_alignment(encodings, self.pairs, self.correspondences(encodings, progress), self.tau)


class FixedCorrespondenceMethod(ContrastiveMethod):
    """A contrastive method whose correspondences W_ab are fixed before training (signs all +1)."""

    def __init__(self, context: MethodContext, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        for a, b in self.pairs:
            self.register_buffer(f"correspondence_{a}_{b}", self.fixed_correspondence(a, b))

    def fixed_correspondence(self, a: int, b: int) -> torch.Tensor:
        """W_ab, a k_a × k_b 0/1 matrix."""
        raise NotImplementedError

    def correspondences(self, encodings: list[torch.Tensor], progress: float) -> list[Correspondence]:
        return [Correspondence.of(getattr(self, f"correspondence_{a}_{b}")) for a, b in self.pairs]
