"""Render time of shapes-text and training-step time on it vs a synthetic dataset, side by side in one run.

Prints the seconds to render 10,000 samples (images + captions, one core), then the mean time per optimiser step
of each method on shapes-text (cnn + text encoders) and on the synthetic ``chain3`` of config/config.yaml (MLP
encoders), with the same batch size, width and depth, on real batches. Usage:
python benchmarks/shapes_text.py [--steps 30] [--batch-size 128] [--methods mcl wcrl] [--image-size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mmcrl.config import dataset_spec, load_config
from mmcrl.data import shapes_text, synthetic
from mmcrl.data.kinds import spec_from_config
from mmcrl.methods import MethodContext, build_method
from mmcrl.optim import Adam


def context(ground_truth: dict, width: int, depth: int) -> MethodContext:
    """The method context the trainer would build for this ground truth (extra_dims 0, tau 0.3)."""
    pattern = np.asarray(ground_truth["sharing_pattern"])
    return MethodContext(
        observed_dims=ground_truth["observed_dims"],
        latent_dims=pattern.sum(axis=1).tolist(),
        width=width,
        depth=depth,
        tau=0.3,
        sharing_pattern=pattern,
        encoder_kinds=ground_truth.get("encoder_kinds"),
    )


def step_time(
    method: str, context: MethodContext, observations: list[np.ndarray], batch_size: int, steps: int
) -> tuple[float, float]:
    """Mean wall-clock and CPU seconds per optimiser step (after 5 warm-up steps) on batches drawn from
    ``observations`` (CPU time, with one thread, is what the step costs on an idle core)."""
    model = build_method(method, context, {})
    optimizer = Adam(model.parameters(), lr=1e-3)
    tensors = [torch.from_numpy(x) for x in observations]
    generator = torch.Generator().manual_seed(0)
    for step in range(steps + 5):
        if step == 5:
            start, cpu_start = time.perf_counter(), time.process_time()
        index = torch.randint(tensors[0].shape[0], (batch_size,), generator=generator)
        loss = model.training_loss([x[index] for x in tensors], 0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu_start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--methods", nargs="+", default=["mcl", "wcrl"])
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config("config/config.yaml")
    render_spec = dataset_spec(
        "shapes-text", kind="shapes-text", image_size=args.image_size, n_train=8000, n_val=1000, n_test=1000
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    shapes_text.generate(render_spec, 0)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    side = args.image_size
    print(f"render 10,000 shapes-text samples ({side}×{side}): {wall:.1f} s wall, {cpu:.1f} s CPU")
    small = dataset_spec("shapes-text", kind="shapes-text", image_size=args.image_size, n_train=1000)
    shapes_splits, shapes_truth = shapes_text.generate(small, 0)
    chain_entry = config["datasets"]["chain3"] | {"n_train": 1000}
    chain_splits, chain_truth = synthetic.generate(spec_from_config("chain3", chain_entry), 0)
    width, depth = config["training"]["width"], config["training"]["depth"]
    for method in args.methods:
        for name, splits, truth in (
            ("shapes-text", shapes_splits, shapes_truth),
            ("chain3", chain_splits, chain_truth),
        ):
            observations = [splits["train"][f"x{m}"] for m in range(len(truth["observed_dims"]))]
            wall, cpu = step_time(method, context(truth, width, depth), observations, args.batch_size, args.steps)
            setting = f"batch {args.batch_size} width {width} depth {depth}"
            print(f"{method:6s} {name:12s} {setting}: {1000 * wall:.1f} ms/step wall, {1000 * cpu:.1f} ms/step CPU")


if __name__ == "__main__":
    main()
