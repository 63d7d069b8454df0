"""Training-step time with and without the Wasserstein structure module, side by side in one run.

Both methods share the encoders, the InfoNCE and the uniformity term (standardised, as wcrl's); `oracle` uses a fixed
correspondence, `wcrl` computes it every step with the module (entropic partial OT, warm-started Sinkhorn) until the
plan is frozen (after 0.9 of training). The difference is the module's cost, shown while it runs (every step before
the freeze) and averaged over a whole schedule (progress 0 → 1, so the last tenth of the steps after the freeze).
The last two columns time a step of `wcrl` after the freeze, without and with the reconstruction term of
``frozen_reconstruction_weight`` (an MLP decoder per modality; on in config/paper.yaml, docs/method.md, twentieth
increment). The runs are interleaved step by step and each is timed by its mean step, so that a change in machine
load hits them alike (on a shared 2-core VM, blocks of steps timed one after the other differed by ±30 %).
Usage: python benchmarks/step_time.py [--steps 200] [--batch-size 128] [--device cpu]
       python benchmarks/step_time.py --config config/config.yaml config/paper.yaml --steps 20   # the paper budget
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mmcrl.config import load_config
from mmcrl.data.synthetic import SyntheticSpec
from mmcrl.methods import MethodContext, build_method
from mmcrl.optim import Adam

WARMUP_STEPS = 10
RECONSTRUCTION = {"frozen_reconstruction_weight": 1.0}  # config/paper.yaml's


def shaped_context(config: dict[str, Any], dataset: str) -> MethodContext:
    """The context of a synthetic dataset of the config (d_m, k_m = |S_m|, the training section's encoder size)."""
    spec = SyntheticSpec.from_config(dataset, config["datasets"][dataset])
    pattern = np.asarray(spec.sharing_pattern())
    training = config["training"]
    return MethodContext(
        spec.observed_dimensions(),
        pattern.sum(axis=1).tolist(),
        training["width"],
        training["depth"],
        training["tau"],
        pattern,
    )


def freeze_to_the_true_plan(model: torch.nn.Module, oracle: torch.nn.Module) -> None:
    """Freeze ``model``'s structure module to the oracle's correspondences (signs +1), the plan of an exact run, so
    that a frozen step aligns what a trained one would."""
    structure = model.structure
    with torch.no_grad():
        for p, ((a, b), (k_a, k_b)) in enumerate(zip(structure.pairs, structure.shapes, strict=True)):
            structure.frozen_plans[p, :k_a, :k_b] = getattr(oracle, f"correspondence_{a}_{b}")
        structure.frozen_signs.fill_(1.0)
    structure.frozen = True


def interleaved_step_seconds(
    runs: list[tuple[torch.nn.Module, Callable[[int], float]]], batch: list[torch.Tensor], steps: int
) -> list[float]:
    """Mean seconds per optimiser step of each (model, progress) run, their steps interleaved one by one (step s of
    every run, then step s + 1, …), so that a change in machine load hits every run alike; step s runs at training
    progress ``progress(s)``; :data:`WARMUP_STEPS` untimed steps first."""
    optimizers = [Adam(model.parameters(), lr=1e-3) for model, _ in runs]
    cuda = batch[0].device.type == "cuda"
    totals = [0.0] * len(runs)
    for step in range(steps + WARMUP_STEPS):
        for index, ((model, progress), optimizer) in enumerate(zip(runs, optimizers, strict=True)):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            loss = model.training_loss(batch, progress(max(0, step - WARMUP_STEPS)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
            if step >= WARMUP_STEPS:
                totals[index] += time.perf_counter() - start
    return [total / steps for total in totals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", nargs="+", default=["config/config.yaml"], help="config files, layered as snakemake --configfile"
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, help="default: the config's training.batch_size")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # the freeze imports scipy.optimize (~1 s, once per process): a job's one-off cost, not a step's; without this
    # the first dataset's whole-run column would carry it
    import scipy.optimize  # noqa: F401

    config = load_config(*args.config)
    args.batch_size = args.batch_size or config["training"]["batch_size"]
    device = torch.device(args.device)
    print(f"device {device}, batch {args.batch_size}, {args.steps} interleaved steps, 1 CPU thread")
    columns = (
        f"{'oracle ms':>10} {'wcrl ms':>10} {'module share':>13} {'whole run: wcrl ms':>19} {'share':>6} "
        f"{'frozen ms':>10} {'+ reconstruction ms':>20}"
    )
    print(f"{'dataset':<10} {columns}")
    for name, entry in config["datasets"].items():
        if entry.get("kind", "synthetic") != "synthetic":
            continue
        context = shaped_context(config, name)
        batch = [torch.randn(args.batch_size, d, device=device) for d in context.observed_dims]
        options = {"uniformity_standardised": True}
        oracle = build_method("oracle", context, options).to(device)
        frozen = [build_method("wcrl", context, options | extra).to(device) for extra in ({}, RECONSTRUCTION)]
        for model in frozen:
            freeze_to_the_true_plan(model, oracle)
        runs = [
            (oracle, lambda _: 0.1),
            (build_method("wcrl", context, options).to(device), lambda _: 0.1),
            (build_method("wcrl", context, options).to(device), lambda step: step / args.steps),
            *((model, lambda _: 0.95) for model in frozen),
        ]
        fixed, learned, schedule, after, reconstructing = interleaved_step_seconds(runs, batch, args.steps)
        print(
            f"{name:<10} {fixed * 1e3:>10.1f} {learned * 1e3:>10.1f} {(learned - fixed) / learned:>12.1%} "
            f"{schedule * 1e3:>19.1f} {(schedule - fixed) / schedule:>6.1%} {after * 1e3:>10.1f} "
            f"{reconstructing * 1e3:>20.1f}"
        )


if __name__ == "__main__":
    main()
