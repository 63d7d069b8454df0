"""Development harness for the ``realistic`` experiment: synthesize → train → recover → evaluate in one process.

Never run it on evaluation seeds (0–4): replicates ≥ 100 only. Prints, per method and seed, r2_shared, the kernel R²
or accuracy of every factor (image / text), the downstream probe, the structure scores and the train / eval seconds.
Usage (one training process at a time, one thread):

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/realistic_harness.py --seeds 100 101 \
        [--methods oracle wcrl mcl] [--training '{"steps": 300}'] [--cache /tmp/shapes-text-dev]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mmcrl.config import experiment_training, load_config
from mmcrl.data.kinds import spec_from_config, write_dataset
from mmcrl.data.synthetic import load_dataset
from mmcrl.evaluate import evaluate_run
from mmcrl.io import derive_seed
from mmcrl.recover import recover_structure
from mmcrl.train import fit, held_out_encodings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--methods", nargs="+", default=["oracle", "wcrl", "mcl"])
    parser.add_argument("--training", default="{}", help="JSON overrides of the realistic experiment's training")
    parser.add_argument("--params", default="{}", help="JSON {method: {option: value}} merged into its params")
    parser.add_argument("--cache", default="/tmp/shapes-text-dev")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--json", default=None, help="append one JSON line per run to this file")
    parser.add_argument("--save", default=None, help="save each run's val/test encodings under this folder")
    args = parser.parse_args()
    if any(seed < 100 for seed in args.seeds):
        parser.error("replicate seeds < 100 are evaluation seeds; develop on seeds ≥ 100")
    config = load_config(args.config)
    training = experiment_training(config, "realistic") | json.loads(args.training)
    training["log_every"] = 10**9
    spec = spec_from_config("shapes-text", config["datasets"]["shapes-text"])
    print("training:", json.dumps(training))
    for seed in args.seeds:
        data = Path(args.cache) / f"seed{seed}"
        if not (data / "manifest.json").exists():
            start = time.perf_counter()
            write_dataset(spec, seed, data)
            print(f"synthesized replicate {seed} in {time.perf_counter() - start:.1f} s")
        dataset = load_dataset(data)
        for method_name in args.methods:
            entry = config["methods"][method_name]
            entry = entry | {"params": entry["params"] | json.loads(args.params).get(method_name, {})}
            run_seed = derive_seed("realistic", "shapes-text", method_name, seed) % 2**31
            model, record = fit(dataset, entry["method"], entry["params"], training, run_seed, method_name)
            encodings, info = held_out_encodings(model, dataset, record)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                arrays = {f"{split}{m}": h for split, hs in encodings.items() for m, h in enumerate(hs)}
                np.savez(Path(args.save) / f"{method_name}-seed{seed}.npz", **arrays)
            start = time.perf_counter()
            structure = recover_structure(encodings["val"], config["recover"]["min_correlation"])
            result = evaluate_run(dataset, encodings, info, structure, config["evaluation"])
            eval_seconds = time.perf_counter() - start
            s = result["summary"]
            per_factor = []
            for r in result["latents"]:
                value = r["r2_kernel"] if r["factor_type"] == "continuous" else r["accuracy"]
                per_factor.append(f"{r['factor']}={value:.3f}(mcc {r['mcc_by_modality']})".replace("\n", ""))
            print(
                f"seed {seed} {method_name:7s} r2_shared {s['r2_shared']:.3f} acc_shared {s['accuracy_shared']:.3f} "
                f"down100 {s['downstream_acc_100']:.3f} down1000 {s['downstream_acc_1000']:.3f} "
                f"F1 {s['structure_f1']:.2f} exact {s['structure_exact']} mcc {s['mcc']:.3f} "
                f"train {record['train_seconds']:.1f}s eval {eval_seconds:.1f}s loss {record['final_loss']:.3f}",
                flush=True,
            )
            print("   ", "; ".join(per_factor))
            print("    recovered pattern:", np.asarray(structure["recovered_pattern"]).tolist())
            if args.json:
                with open(args.json, "a") as stream:
                    stream.write(
                        json.dumps(
                            {
                                "seed": seed,
                                "method": method_name,
                                "training": training,
                                "summary": s,
                                "latents": result["latents"],
                                "eval_seconds": eval_seconds,
                                "structure": structure,
                            },
                            default=str,
                        )
                        + "\n"
                    )


if __name__ == "__main__":
    main()
