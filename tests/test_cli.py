"""The stage commands: recovery and evaluation score several seeds of one method in one call."""

import json

from mmcrl.cli import main
from mmcrl.io import read_json

CONFIG = {
    "datasets": {
        "pair2": {"n_latents": 3, "pattern": [[0, 1], [0, 2]], "n_train": 300, "n_val": 150, "n_test": 150},
    },
    "methods": {"mcl": {"method": "mcl"}},
    "training": {"steps": 5, "batch_size": 32, "width": 8, "depth": 1},
    "evaluation": {"kernel_max_fit": 50},
}


def test_recover_and_evaluate_write_one_record_per_seed_in_the_order_given(tmp_path, capsys):
    config = json.dumps(CONFIG)
    seeds = ["3", "1"]
    for seed in seeds:
        data = str(tmp_path / f"data{seed}")
        assert main(["synthesize", "--config", config, "--dataset", "pair2", "--seed", seed, "--out", data]) == 0
        run = ["--experiment", "e", "--dataset", "pair2", "--method", "mcl", "--seed", seed, "--data", data]
        out = str(tmp_path / f"run{seed}" / "model.pt")
        encodings = str(tmp_path / f"run{seed}" / "encodings.npz")
        assert main(["train", "--config", config, *run, "--out", out, "--encodings", encodings]) == 0
    encodings = [str(tmp_path / f"run{seed}" / "encodings.npz") for seed in seeds]
    structures = str(tmp_path / "structures.json")
    assert main(["recover", "--config", config, "--seed", *seeds, "--encodings", *encodings, "--out", structures]) == 0
    assert [record["seed"] for record in read_json(structures)] == [3, 1]

    identity = ["--experiment", "e", "--dataset", "pair2", "--method", "mcl", "--seed", *seeds]
    data = [str(tmp_path / f"data{seed}") for seed in seeds]
    metrics = str(tmp_path / "metrics.json")
    common = ["evaluate", "--config", config, *identity, "--encodings", *encodings, "--structures", structures]
    assert main([*common, "--data", *data, "--out", metrics]) == 0
    records = read_json(metrics)
    assert [(r["method"], r["seed"]) for r in records] == [("mcl", 3), ("mcl", 1)]
    assert records[0]["summary"]["mcc"] != records[1]["summary"]["mcc"]  # each seed scored on its own replicate

    capsys.readouterr()
    assert main([*common, "--data", data[0], "--out", metrics]) == 2
    assert "mmcrl evaluate: error: --data has 1 paths for 2 seeds" in capsys.readouterr().err
