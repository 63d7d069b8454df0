"""``mmcrl <stage>``: the pipeline stages as commands, usable with or without Snakemake.

``--config`` takes a YAML file (the whole study) or inline JSON (the slice a workflow rule passes); either is
validated and completed with the schema's defaults. Errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from mmcrl.config import ConfigError, experiment_training, load_config, validate_config
from mmcrl.io import derive_seed, write_json

log = logging.getLogger("mmcrl")


def _config(value: str) -> dict[str, Any]:
    if value.lstrip().startswith("{"):
        try:
            return validate_config(json.loads(value))
        except json.JSONDecodeError as error:
            raise ConfigError(f"--config: inline JSON is malformed ({error.msg})") from error
    return load_config(value)


def _entry(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    if name not in config[section]:
        raise ConfigError(f"{section} {name!r} is not in the config (defined: {', '.join(sorted(config[section]))})")
    return config[section][name]


def cmd_synthesize(args: argparse.Namespace) -> None:
    from mmcrl.data.kinds import spec_from_config, write_dataset

    spec = spec_from_config(args.dataset, _entry(_config(args.config), "datasets", args.dataset))
    manifest = write_dataset(spec, args.seed, args.out)
    log.info("wrote %s", manifest.parent)


def cmd_train(args: argparse.Namespace) -> None:
    from mmcrl.data.synthetic import load_dataset
    from mmcrl.encodings import write_encodings
    from mmcrl.train import fit, held_out_encodings, save_checkpoint

    config = _config(args.config)
    entry = _entry(config, "methods", args.method)
    run = f"{args.experiment}/{args.dataset}/{args.method}/seed{args.seed}"
    seed = derive_seed(args.experiment, args.dataset, args.method, args.seed) % 2**31
    progress = Path(f"{args.out}.progress")
    dataset = load_dataset(args.data)
    training = experiment_training(config, args.experiment)
    model, record = fit(dataset, entry["method"], entry["params"], training, seed, run, progress)
    save_checkpoint(args.out, model, record | {"method_name": args.method})
    write_encodings(args.encodings, *held_out_encodings(model, dataset, record))
    progress.unlink(missing_ok=True)
    log.info("%s trained in %.1f s on %s", run, record["train_seconds"], record["device"])


def _runs(args: argparse.Namespace, templates: dict[str, tuple[str, ...]]) -> list[tuple[str, int, list[str]]]:
    """(method, seed, [each template filled in]) for every method × seed of the arguments, methods outer.

    ``templates`` maps an argument, a path with ``{method}`` / ``{seed}`` fields, to the fields its file depends on;
    one that misses such a field while several values are given would name one file for several runs: refused.
    """
    for name, fields in templates.items():
        template = getattr(args, name)
        for field in fields:
            values = getattr(args, field)
            if len(values) > 1 and f"{{{field}}}" not in template:
                given = f"{len(values)} {field}s are given"
                raise ValueError(f"--{name} {template!r} has no {{{field}}} field, but {given}")
    return [
        (method, seed, [getattr(args, name).format(method=method, seed=seed) for name in templates])
        for method in args.method
        for seed in args.seed
    ]


def cmd_recover(args: argparse.Namespace) -> None:
    from mmcrl.encodings import read_encodings
    from mmcrl.recover import recover_structure

    min_correlation = _config(args.config)["recover"]["min_correlation"]
    structures = []
    for method, seed, (encodings_path,) in _runs(args, {"encodings": ("method", "seed")}):
        encodings, _ = read_encodings(encodings_path)
        structure = recover_structure(encodings["val"], min_correlation)
        structures.append({"method": method, "seed": seed} | structure)
        found, conflicts = structure["n_recovered_latents"], len(structure["conflicts"])
        log.info("%s seed %d: recovered %d latents, %d conflicts", method, seed, found, conflicts)
    write_json(args.out, structures)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mmcrl.data.synthetic import load_dataset
    from mmcrl.encodings import read_encodings
    from mmcrl.evaluate import evaluate_run
    from mmcrl.io import read_json

    evaluation = _config(args.config)["evaluation"]
    structures = {(s["method"], s["seed"]): s for s in read_json(args.structures)}
    datasets: dict[str, Any] = {}  # each seed's replicate, loaded once for all methods
    records = []
    for method, seed, (encodings_path, data) in _runs(args, {"encodings": ("method", "seed"), "data": ("seed",)}):
        if (method, seed) not in structures:
            raise ValueError(f"{args.structures}: no structure of {method} seed {seed}; rerun `mmcrl recover`")
        encodings, info = read_encodings(encodings_path)
        if data not in datasets:
            datasets[data] = load_dataset(data)
        result = evaluate_run(datasets[data], encodings, info, structures[method, seed], evaluation)
        identity = {"experiment": args.experiment, "dataset": args.dataset, "method": method, "seed": seed}
        records.append(identity | result)
        log.info("%s seed %d: %s", method, seed, json.dumps(result["summary"]))
    write_json(args.out, records)


def cmd_aggregate(args: argparse.Namespace) -> None:
    from mmcrl.aggregate import write_tables

    write_tables(args.inputs, args.out_dir, args.metrics_json)


def cmd_figures(args: argparse.Namespace) -> None:
    from mmcrl.figures import write_figures

    write_figures(args.experiment, args.tables, args.runs, _config(args.config)["figures"], args.out_dir)


def cmd_factor_figure(args: argparse.Namespace) -> None:
    from mmcrl.figures import write_factor_figure

    write_factor_figure(args.experiment, args.tables, _config(args.config)["figures"], args.out_dir)


def cmd_sample_grid(args: argparse.Namespace) -> None:
    from mmcrl.figures import write_sample_grid

    write_sample_grid(args.data, _config(args.config)["figures"], args.out_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcrl", description=__doc__.splitlines()[0])
    stages = parser.add_subparsers(dest="stage", required=True)

    def stage(name: str, handler, help_text: str) -> argparse.ArgumentParser:  # noqa: ANN001
        sub = stages.add_parser(name, help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = stage("synthesize", cmd_synthesize, "draw one replicate of a dataset (synthetic or shapes-text)")
    sub.add_argument("--config", required=True, help="YAML file or inline JSON")
    sub.add_argument("--dataset", required=True)
    sub.add_argument("--seed", type=int, required=True, help="replicate seed (DAG, mechanisms, mixing, samples)")
    sub.add_argument("--out", required=True, help="output directory")

    sub = stage("train", cmd_train, "train one method on one dataset replicate")
    sub.add_argument("--config", required=True)
    sub.add_argument("--experiment", required=True)
    sub.add_argument("--dataset", required=True)
    sub.add_argument("--method", required=True)
    sub.add_argument("--seed", type=int, required=True)
    sub.add_argument("--data", required=True, help="dataset directory")
    sub.add_argument("--out", required=True, help="checkpoint path (model.pt)")
    sub.add_argument("--encodings", required=True, help="path of the held-out encodings (encodings.npz)")

    def grid(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--method", nargs="+", required=True, help="one or more methods (config names)")
        sub.add_argument("--seed", type=int, nargs="+", required=True, help="one or more seeds")
        sub.add_argument(
            "--encodings", required=True, help="encodings.npz of each run (mmcrl train), with {method} and {seed}"
        )

    sub = stage("recover", cmd_recover, "recover the sharing pattern from held-out encodings, run by run")
    sub.add_argument("--config", required=True)
    grid(sub)
    sub.add_argument("--out", required=True, help="structures.json path (one recovered structure per run)")

    sub = stage("evaluate", cmd_evaluate, "score trained models' encodings against the ground truth, run by run")
    sub.add_argument("--config", required=True)
    sub.add_argument("--experiment", required=True)
    sub.add_argument("--dataset", required=True)
    grid(sub)
    sub.add_argument("--data", required=True, help="dataset directory of each seed, with {seed}")
    sub.add_argument("--structures", required=True, help="structures.json (mmcrl recover)")
    sub.add_argument("--out", required=True, help="metrics.json path (one record per run)")

    sub = stage("aggregate", cmd_aggregate, "gather metrics.json files into tables")
    sub.add_argument("inputs", nargs="+", help="metrics.json files (mmcrl evaluate)")
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--metrics-json", required=True)

    sub = stage("figures", cmd_figures, "draw the figures from the tables")
    sub.add_argument("--config", required=True)
    sub.add_argument("--experiment", required=True)
    sub.add_argument("--tables", required=True, help="directory with runs.csv and latents.csv")
    sub.add_argument("--runs", nargs="+", required=True, help="the experiment's metrics.json files")
    sub.add_argument("--out-dir", required=True)

    sub = stage("factor-figure", cmd_factor_figure, "draw the per-factor R²/accuracy figure of an experiment")
    sub.add_argument("--config", required=True)
    sub.add_argument("--experiment", required=True)
    sub.add_argument("--tables", required=True, help="directory with runs.csv and factors.csv")
    sub.add_argument("--out-dir", required=True)

    sub = stage("sample-grid", cmd_sample_grid, "draw test images of a shapes-text dataset with their captions")
    sub.add_argument("--config", required=True)
    sub.add_argument("--data", required=True, help="dataset directory")
    sub.add_argument("--out-dir", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        args.handler(args)
    except (ConfigError, ValueError, RuntimeError) as error:
        print(f"mmcrl {args.stage}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
