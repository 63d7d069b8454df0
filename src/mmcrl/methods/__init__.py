"""The method registry: one module per method, looked up by the name used in configs."""

from __future__ import annotations

from typing import Any

from mmcrl.methods.base import Method, MethodContext, content_sizes
from mmcrl.methods.ica_match import ICAMatch
from mmcrl.methods.mcl import MCL
from mmcrl.methods.mmvae import MMVAE
from mmcrl.methods.mmvae_w import MMVAEW
from mmcrl.methods.mvcrl import MVCRL
from mmcrl.methods.oracle import Oracle
from mmcrl.methods.wcrl import WCRL

REGISTRY: dict[str, type[Method]] = {
    "oracle": Oracle,
    "mcl": MCL,
    "wcrl": WCRL,
    "mvcrl": MVCRL,
    "ica-match": ICAMatch,
    "mmvae": MMVAE,
    "mmvae-w": MMVAEW,
}


def build_method(method: str, context: MethodContext, params: dict[str, Any]) -> Method:
    """Instantiate registered method ``method``. The context keeps the true pattern only for a method that is told it
    (``told_pattern``) and the subsets' content sizes only for one told them (``told_content_sizes``, computed here
    from the pattern when the context has it)."""
    if method not in REGISTRY:
        raise ValueError(f"unknown method {method!r}; registered: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[method]
    sizes = context.content_sizes
    if cls.told_content_sizes and context.sharing_pattern is not None:
        sizes = content_sizes(context.sharing_pattern)
    pattern = context.sharing_pattern if cls.told_pattern else None
    context = MethodContext(
        **{**context.__dict__, "sharing_pattern": pattern, "content_sizes": sizes if cls.told_content_sizes else None}
    )
    return cls(context, params)


__all__ = ["REGISTRY", "Method", "MethodContext", "build_method"]
