"""Neural building blocks: encoders (and, later, the Wasserstein structure module)."""

from mmcrl.models.encoders import mlp_encoder

__all__ = ["mlp_encoder"]
