"""Training-step time with and without the Wasserstein structure module, side by side in one run.

Both methods share the encoders, the InfoNCE and the uniformity term; `oracle` uses a fixed correspondence, `wcrl`
computes it every step with the module (entropic partial OT, warm-started Sinkhorn). The difference is the module's
cost. Usage: python benchmarks/step_time.py [--steps 60] [--batch-size 256] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mmcrl.config import load_config
from mmcrl.data.synthetic import SyntheticSpec
from mmcrl.methods import MethodContext, build_method


def step_time(method: str, context: MethodContext, batch_size: int, steps: int, device: torch.device) -> float:
    """Mean seconds per optimiser step (after 10 warm-up steps) on random inputs."""
    model = build_method(method, context, {}).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    batch = [torch.randn(batch_size, d, device=device) for d in context.observed_dims]
    for step in range(steps + 10):
        if step == 10:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        loss = model.loss(model(batch), 0.1)
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
    print(f"{'dataset':<10} {'oracle ms':>10} {'wcrl ms':>10} {'module share':>13}")
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
        fixed = step_time("oracle", context, args.batch_size, args.steps, device)
        learned = step_time("wcrl", context, args.batch_size, args.steps, device)
        print(f"{name:<10} {fixed * 1e3:>10.1f} {learned * 1e3:>10.1f} {(learned - fixed) / learned:>12.0%}")


if __name__ == "__main__":
    main()
