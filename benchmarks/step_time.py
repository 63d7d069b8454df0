"""Training-step time with and without the Wasserstein structure module, side by side in one run.

Both methods share the encoders, the InfoNCE and the uniformity term (standardised, as wcrl's); `oracle` uses a fixed
correspondence, `wcrl` computes it every step with the module (entropic partial OT, warm-started Sinkhorn) until the
plan is frozen (after half of training). The difference is the module's cost, shown while it runs (every step before
the freeze) and averaged over a whole schedule (progress 0 → 1, so half the steps after the freeze).
Usage: python benchmarks/step_time.py [--steps 60] [--batch-size 256] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mmcrl.config import load_config
from mmcrl.data.synthetic import SyntheticSpec
from mmcrl.methods import MethodContext, build_method


def step_time(
    method: str, context: MethodContext, batch_size: int, steps: int, device: torch.device, whole_schedule: bool
) -> float:
    """Mean seconds per optimiser step (after 10 warm-up steps) on random inputs, at progress 0.1 or, with
    ``whole_schedule``, at progress step / steps."""
    model = build_method(method, context, {"uniformity_standardised": True}).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    batch = [torch.randn(batch_size, d, device=device) for d in context.observed_dims]
    for step in range(steps + 10):
        if step == 10:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        progress = max(0, step - 10) / steps if whole_schedule else 0.1
        loss = model.loss(model(batch), progress)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    device = torch.device(args.device)
    print(f"device {device}, batch {args.batch_size}, {args.steps} steps, 1 CPU thread")
    columns = f"{'oracle ms':>10} {'wcrl ms':>10} {'module share':>13} {'whole run: wcrl ms':>19} {'share':>6}"
    print(f"{'dataset':<10} {columns}")
    for name, entry in config["datasets"].items():
        spec = SyntheticSpec.from_config(name, entry)
        pattern = spec.sharing_pattern()
        training = config["training"]
        context = MethodContext(
            spec.observed_dimensions(),
            pattern.sum(axis=1).tolist(),
            training["width"],
            training["depth"],
            training["tau"],
            np.asarray(pattern),
        )
        fixed = step_time("oracle", context, args.batch_size, args.steps, device, whole_schedule=False)
        learned = step_time("wcrl", context, args.batch_size, args.steps, device, whole_schedule=False)
        schedule = step_time("wcrl", context, args.batch_size, args.steps, device, whole_schedule=True)
        print(
            f"{name:<10} {fixed * 1e3:>10.1f} {learned * 1e3:>10.1f} {(learned - fixed) / learned:>12.0%} "
            f"{schedule * 1e3:>19.1f} {(schedule - fixed) / schedule:>6.0%}"
        )


if __name__ == "__main__":
    main()
