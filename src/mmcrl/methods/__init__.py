"""The method registry: one module per method, looked up by the name used in configs."""

from __future__ import annotations

from typing import Any

from mmcrl.methods.base import ContrastiveMethod, MethodContext
from mmcrl.methods.mcl import MCL
from mmcrl.methods.oracle import Oracle
from mmcrl.methods.wcrl import WCRL

REGISTRY: dict[str, type[ContrastiveMethod]] = {"oracle": Oracle, "mcl": MCL, "wcrl": WCRL}


def build_method(method: str, context: MethodContext, params: dict[str, Any]) -> ContrastiveMethod:
    """Instantiate registered method ``method``; the true pattern is removed from the context unless it is told."""
    if method not in REGISTRY:
        raise ValueError(f"unknown method {method!r}; registered: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[method]
    if not cls.told_pattern:
        context = MethodContext(**{**context.__dict__, "sharing_pattern": None})
    return cls(context, params)


__all__ = ["REGISTRY", "MethodContext", "build_method"]
