"""Tuning harness: synthesize → train → recover → evaluate one or more replicates in ONE process, print the scores.

For development on tuning seeds only: the study's replicate seeds 0–4 are evaluation seeds and the script refuses
them (and the study's random-pattern seeds 2026 and 5150). Datasets come from the config (``--config``, default
config/config.yaml); ``--pattern-seed`` redraws a random pattern (``rand5``-style entries). The training budget is the
config's ``training:`` section (default study: 400 steps, batch 256, width 128, depth 3) unless overridden. The
training seed depends on (dataset, replicate seed) only, not on the method or its options, so variants are compared
from the same initialisation and the same batches. Per run it prints one line: mcc_identifiable, structure_exact,
structure_f1, mcc_private, the final training loss (mean of the last 50 steps), two label-free checks of the
recovered structure (the number of conflicts refused by the recovery's union-find, and the Jaccard agreement between
the pairs the frozen plans match and those recovered on held-out data), the information score that
``training.restarts`` chooses by (:func:`mmcrl.selection.information_score` on the validation split) and the
training time.

``--inits I …`` trains each replicate from several initialisations instead (training seed derived from dataset,
replicate and init index I; one line per init): the per-run success rate, and whether the training loss ranks the
runs of one replicate (docs/method.md, "Fifth increment"). ``--show-freeze`` prints, under each run, |ρ̄| at the
freeze of every pair the frozen plans match, ``!`` marking those the recovery refuses (docs/method.md, seventeenth
session).

Usage:
  python benchmarks/tune_wcrl.py --datasets chain3 yao4 --seeds 100 101 --method wcrl --params '{"cost": "squared"}'
  python benchmarks/tune_wcrl.py --datasets rand5 --pattern-seed 100 --seeds 100
  python benchmarks/tune_wcrl.py --datasets yao4 --seeds 104 105 --inits 0 1 2 3 4
  python benchmarks/tune_wcrl.py --datasets chain3 pair2 --seeds 100 101 --show-freeze
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import tempfile
import time
from pathlib import Path

from mmcrl.config import load_config
from mmcrl.data.kinds import spec_from_config, write_dataset
from mmcrl.data.synthetic import load_dataset
from mmcrl.evaluate import evaluate_run
from mmcrl.io import derive_seed
from mmcrl.recover import recover_structure
from mmcrl.train import fit, held_out_encodings, validation_information

EVALUATION_SEEDS = range(5)
EVALUATION_PATTERN_SEEDS = (2026, 5150)
SCORES = (
    "mcc_identifiable",
    "structure_exact",
    "structure_f1",
    "mcc_private",
    "final_loss",
    "conflicts",
    "plan_agreement",
    "information",
    "chosen_restart",
)


def training_seed(dataset_name: str, entry: dict, seed: int, init: int | None) -> int:
    """The training seed of a replicate: derived from (dataset, its config entry, replicate seed) and, for ``--inits``,
    the initialisation index (None: the replicate's own seed) — the same for every method and option."""
    parts = ["tune", dataset_name, json.dumps(entry, sort_keys=True), seed] + ([] if init is None else [init])
    return derive_seed(*parts) % 2**31


def run_once(
    config: dict, dataset_name: str, entry: dict, seed: int, init: int | None, method: str, params: dict, work: Path
) -> dict:
    """One replicate (from initialisation ``init``; None: the replicate's own training seed): write the data, train,
    recover on the validation split, evaluate; returns the summary, the recovered pattern and the final loss."""
    data_dir = work / f"{dataset_name}-seed{seed}"
    if not (data_dir / "manifest.json").exists():
        write_dataset(spec_from_config(dataset_name, entry), seed, data_dir)
    dataset = load_dataset(data_dir)
    training = config["training"]
    train_seed = training_seed(dataset_name, entry, seed, init)
    model, record = fit(dataset, method, params, training, train_seed, f"tune/{dataset_name}/{method}/seed{seed}")
    held_out, info = held_out_encodings(model, dataset, record)
    structure = recover_structure(held_out["val"], config["recover"]["min_correlation"])
    result = evaluate_run(dataset, held_out, info, structure, config["evaluation"])
    planned, recovered = frozen_matches(model), recovered_matches(structure["matches"])
    return result["summary"] | {
        "chosen_restart": record.get("restarts", {}).get("chosen"),
        "recovered": structure["recovered_pattern"],
        "final_loss": record["final_loss"],
        "conflicts": len(structure["conflicts"]),
        "plan_agreement": plan_agreement(planned, recovered),
        "frozen_pairs": frozen_pairs(planned, recovered),
        "information": validation_information(model, dataset, held_out["val"])[0],
    }


def frozen_matches(model: object) -> dict[tuple[int, int, int, int], float] | None:
    """{(a, i, b, j): |ρ̄| at the freeze} for every coordinate pair the structure module's frozen plans match (ρ̄
    stops moving at the freeze); None without a frozen module."""
    module = getattr(model, "structure", None)
    if module is None or not bool(module.frozen):
        return None
    correlation = module.layout.blocks(module.running_correlation)
    pairs = zip(module.pairs, module.frozen_plans, module.shapes, strict=True)
    return {
        (a, i, b, j): abs(float(correlation[p, i, j]))
        for p, ((a, b), plan, (k_a, k_b)) in enumerate(pairs)
        for i, j in (plan[:k_a, :k_b] > 0.5).nonzero().tolist()
    }


def recovered_matches(matches: list[dict]) -> set[tuple[int, int, int, int]]:
    """The (a, i, b, j) coordinate pairs of the recovery's ``matches``."""
    return {(match["a"], match["i"], match["b"], match["j"]) for match in matches}


def plan_agreement(planned: dict | None, recovered: set) -> float:
    """Label-free check of a run: Jaccard overlap between the coordinate pairs the structure module's frozen plans
    match (``planned``, :func:`frozen_matches`) and those recovered from the held-out encodings (|ρ| > ρ_min); 1.0
    when they agree, NaN without a module."""
    if planned is None:
        return float("nan")
    union = planned.keys() | recovered
    return len(planned.keys() & recovered) / len(union) if union else 1.0


def frozen_pairs(planned: dict | None, recovered: set) -> list[tuple[float, bool]]:
    """(|ρ̄| at the freeze, recovered?) of every frozen matched pair, by increasing |ρ̄|: how far the pairs the
    recovery refuses (spurious) sit below the true ones; empty without a frozen module."""
    return sorted((rho, pair in recovered) for pair, rho in (planned or {}).items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"], help="config files, layered in order")
    parser.add_argument("--datasets", nargs="+", default=["yao4", "chain3", "pair2"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102, 103])
    parser.add_argument("--method", default="wcrl", help="a registered method (not a config entry)")
    parser.add_argument("--params", default="{}", help="the method's options as JSON")
    parser.add_argument("--pattern-seed", type=int, help="redraw the datasets' random patterns with this seed")
    parser.add_argument("--steps", type=int, help="override training.steps")
    parser.add_argument("--width", type=int, help="override training.width")
    parser.add_argument("--restarts", type=int, help="override training.restarts")
    parser.add_argument("--n-train", type=int, help="override the datasets' n_train")
    parser.add_argument("--show-pattern", action="store_true", help="print the recovered pattern of inexact runs")
    parser.add_argument(
        "--show-freeze", action="store_true", help="print |ρ̄| at the freeze of each frozen pair (! = not recovered)"
    )
    parser.add_argument("--inits", nargs="+", type=int, help="train each replicate from these initialisations")
    args = parser.parse_args()
    if any(seed in EVALUATION_SEEDS for seed in args.seeds):
        parser.error("replicate seeds 0–4 are the study's evaluation seeds: tune on seeds ≥ 100")
    if args.pattern_seed in EVALUATION_PATTERN_SEEDS:
        parser.error("pattern seeds 2026 and 5150 are evaluation patterns (config, tests): pick another")
    logging.basicConfig(level=logging.WARNING)
    config = load_config(*args.config)
    config["training"] |= {"threads": 1}
    if args.steps:
        config["training"]["steps"] = args.steps
    if args.width:
        config["training"]["width"] = args.width
    if args.restarts:
        config["training"]["restarts"] = args.restarts
    params = json.loads(args.params)
    with tempfile.TemporaryDirectory(prefix="tune-wcrl-") as tmp:
        for dataset_name in args.datasets:
            entry = copy.deepcopy(config["datasets"][dataset_name])
            if args.pattern_seed is not None and isinstance(entry["pattern"], dict):
                entry["pattern"]["seed"] = args.pattern_seed
            if args.n_train:
                entry["n_train"] = args.n_train
            for seed in args.seeds:
                for init in args.inits or [None]:
                    start = time.perf_counter()
                    summary = run_once(config, dataset_name, entry, seed, init, args.method, params, Path(tmp))
                    scores = " ".join(
                        f"{key}={summary[key]:.3f}" if isinstance(summary[key], float) else f"{key}={summary[key]}"
                        for key in SCORES
                    )
                    seconds = time.perf_counter() - start
                    run = f"seed {seed}" + ("" if init is None else f" init {init}")
                    print(f"{dataset_name} {run} {args.method} {args.params}: {scores} ({seconds:.0f} s)", flush=True)
                    if args.show_pattern and not summary["structure_exact"]:
                        print(f"  recovered {summary['recovered']}", flush=True)
                    if args.show_freeze:
                        pairs = " ".join(f"{rho:.3f}{'' if ok else '!'}" for rho, ok in summary["frozen_pairs"])
                        print(f"  frozen pairs |ρ̄|: {pairs}", flush=True)


if __name__ == "__main__":
    main()
