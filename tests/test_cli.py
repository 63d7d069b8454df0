"""The stage commands: recovery and evaluation score every run (method × seed) of one dataset in one call."""

import json

from mmcrl.cli import main
from mmcrl.io import read_json

CONFIG = {
    "datasets": {
        "pair2": {"n_latents": 3, "pattern": [[0, 1], [0, 2]], "n_train": 300, "n_val": 150, "n_test": 150},
    },
    "methods": {"mcl": {"method": "mcl"}, "oracle": {"method": "oracle"}},
    "training": {"steps": 5, "batch_size": 32, "width": 8, "depth": 1},
    "evaluation": {"kernel_max_fit": 50},
}


def test_recover_and_evaluate_write_one_record_per_run_methods_outer(tmp_path, capsys):
    config = json.dumps(CONFIG)
    methods, seeds = ["oracle", "mcl"], ["3", "1"]
    data = str(tmp_path / "data" / "seed{seed}")
    encodings = str(tmp_path / "{method}" / "seed{seed}" / "encodings.npz")
    for seed in seeds:
        replicate = data.format(seed=seed)
        assert main(["synthesize", "--config", config, "--dataset", "pair2", "--seed", seed, "--out", replicate]) == 0
        for method in methods:
            run = ["--experiment", "e", "--dataset", "pair2", "--method", method, "--seed", seed, "--data", replicate]
            out = encodings.format(method=method, seed=seed)
            assert main(["train", "--config", config, *run, "--out", f"{out}.pt", "--encodings", out]) == 0
    grid = ["--method", *methods, "--seed", *seeds, "--encodings", encodings]
    structures = str(tmp_path / "structures.json")
    assert main(["recover", "--config", config, *grid, "--out", structures]) == 0
    runs = [("oracle", 3), ("oracle", 1), ("mcl", 3), ("mcl", 1)]
    assert [(record["method"], record["seed"]) for record in read_json(structures)] == runs

    metrics = str(tmp_path / "metrics.json")
    evaluate = ["evaluate", "--config", config, "--experiment", "e", "--dataset", "pair2", *grid]
    assert main([*evaluate, "--data", data, "--structures", structures, "--out", metrics]) == 0
    records = read_json(metrics)
    assert [(record["method"], record["seed"]) for record in records] == runs
    assert records[0]["told_pattern"] and not records[2]["told_pattern"]
    assert records[2]["summary"]["mcc"] != records[3]["summary"]["mcc"]  # each seed scored on its own replicate

    capsys.readouterr()
    one_replicate = str(tmp_path / "data" / "seed3")
    assert main([*evaluate, "--data", one_replicate, "--structures", structures, "--out", metrics]) == 2
    error = capsys.readouterr().err
    assert f"mmcrl evaluate: error: --data '{one_replicate}' has no {{seed}} field, but 2 seeds are given" in error
