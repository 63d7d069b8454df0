"""Train each neural method briefly on CUDA and on the CPU, and print steps per second side by side.

Synthesises small replicates of the default datasets (numpy only) into a temporary folder, then runs
``mmcrl.train.fit`` for a fixed number of steps per (dataset, method, batch size, device). Meant for a GPU box:
``python benchmarks/gpu_smoke.py --steps 300``; without CUDA it times the CPU only.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from mmcrl.config import dataset_spec
from mmcrl.data.synthetic import load_dataset, write_dataset
from mmcrl.train import fit

DATASETS = {
    "yao4": {"n_latents": 6, "pattern": [[0, 1, 2, 3, 4], [0, 1, 2, 4, 5], [0, 1, 2, 3, 5], [0, 1, 3, 4, 5]]},
    "chain3": {"n_latents": 6, "pattern": [[0, 2, 3], [0, 1, 2, 4], [1, 2, 5]]},
}
GENERATOR = {"n_train": 20000, "n_val": 1000, "n_test": 1000}
TRAINING = {
    "lr": 0.003,
    "lr_final_fraction": 0.05,
    "warmup_steps": 10,
    "width": 128,
    "depth": 3,
    "extra_dims": 0,
    "tau": 0.3,
    "threads": 1,
    "restarts": 1,
    "log_every": 10**9,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--methods", nargs="+", default=["oracle", "mcl", "wcrl"])
    parser.add_argument("--cpu-threads", type=int, default=1)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="cuda is skipped without a GPU")
    args = parser.parse_args()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    print(f"{args.steps} steps per run; CPU runs use {args.cpu_threads} thread(s)")
    print(f"{'dataset':<8} {'method':<7} {'batch':>6} " + " ".join(f"{d + ' steps/s':>14}" for d in devices))
    with tempfile.TemporaryDirectory() as root:
        for name, pattern in DATASETS.items():
            write_dataset(dataset_spec(name, **pattern, **GENERATOR), 0, Path(root) / name)
            dataset = load_dataset(Path(root) / name)
            for method in args.methods:
                for batch_size in args.batch_sizes:
                    rates = []
                    for device in devices:
                        training = TRAINING | {
                            "steps": args.steps,
                            "batch_size": batch_size,
                            "device": device,
                            "threads": args.cpu_threads,
                        }
                        _, record = fit(dataset, method, {}, training, seed=0, run_name=f"{name}/{method}")
                        rates.append(args.steps / record["train_seconds"])
                    print(f"{name:<8} {method:<7} {batch_size:>6} " + " ".join(f"{r:>14.1f}" for r in rates))


if __name__ == "__main__":
    main()
