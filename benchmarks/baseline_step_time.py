"""Training-step time of every trainable method on one dataset's shapes, side by side in one process.

Each method's ``training_loss`` + backward + Adam step on random inputs shaped like the dataset (d_m, k_m = |S_m|),
one CPU thread; the methods' steps are interleaved one by one so that a change in machine load hits them alike.
Usage: python benchmarks/baseline_step_time.py [--dataset chain3] [--steps 100] [--batch-size 128]
"""

from __future__ import annotations

import argparse

import torch
from step_time import interleaved_step_seconds, shaped_context  # the benchmark beside this one (same directory)

from mmcrl.config import load_config
from mmcrl.methods import REGISTRY, build_method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="chain3")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, help="default: the config's training.batch_size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = load_config(args.config)
    args.batch_size = args.batch_size or config["training"]["batch_size"]
    context = shaped_context(config, args.dataset)
    batch = [torch.randn(args.batch_size, d) for d in context.observed_dims]
    names = [name for name, cls in REGISTRY.items() if cls.trainable]
    runs = [(build_method(name, context, {}), lambda _: 0.1) for name in names]
    times = dict(zip(names, interleaved_step_seconds(runs, batch, args.steps), strict=True))
    print(f"{args.dataset}, batch {args.batch_size}, {args.steps} interleaved steps, 1 CPU thread")
    print(f"{'method':<10} {'ms/step':>8} {'× mcl':>6}")
    for name in names:
        print(f"{name:<10} {times[name] * 1e3:>8.1f} {times[name] / times['mcl']:>6.2f}")


if __name__ == "__main__":
    main()
