"""Neural building blocks: encoders (and, later, the Wasserstein structure module)."""

from mmcrl.models.encoders import ENCODERS, build_encoder, mlp_encoder

__all__ = ["ENCODERS", "build_encoder", "mlp_encoder"]
