"""A training job killed with SIGKILL leaves no finished-looking output and resumes to the same model."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mmcrl.config import dataset_spec
from mmcrl.data.synthetic import write_dataset

MMCRL = str(Path(sys.executable).with_name("mmcrl"))
CONFIG = {
    # the refit puts the encoders back to their initial weights at the freeze (step 500): a run resumed after it
    # must have the same weights to refit from
    "methods": {"wcrl": {"method": "wcrl", "params": {"refit_at_freeze": True}}},
    "training": {
        "steps": 800,
        "batch_size": 64,
        "width": 32,
        "depth": 2,
        "checkpoint_every": 50,
        "log_every": 50,
        "restarts": 2,  # wcrl trains two candidates and keeps one: the kill may fall in either
    },
}


def train(data: Path, out: Path) -> subprocess.Popen:
    command = [
        MMCRL,
        "train",
        "--config",
        json.dumps(CONFIG),
        "--experiment",
        "e",
        "--dataset",
        "d",
        "--method",
        "wcrl",
        "--seed",
        "0",
        "--data",
        str(data),
        "--out",
        str(out),
        "--encodings",
        str(out.with_name("encodings.npz")),
    ]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    write_dataset(dataset_spec("d", n_latents=3, pattern=[[0, 1], [0, 2]], n_train=1000), 0, tmp_path / "data")
    uninterrupted = train(tmp_path / "data", tmp_path / "a" / "model.pt")
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()

    killed = train(tmp_path / "data", tmp_path / "b" / "model.pt")
    progress = tmp_path / "b" / "model.pt.progress"
    deadline = time.time() + 120
    while not progress.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert progress.exists() and not (tmp_path / "b" / "model.pt").exists()
    assert not (tmp_path / "b" / "encodings.npz").exists()

    resumed = train(tmp_path / "data", tmp_path / "b" / "model.pt")
    assert resumed.wait(timeout=300) == 0
    assert "resumed at step" in resumed.stderr.read()
    assert not progress.exists()
    first = torch.load(tmp_path / "a" / "model.pt", weights_only=False)
    second = torch.load(tmp_path / "b" / "model.pt", weights_only=False)
    for name, value in first["state_dict"].items():
        torch.testing.assert_close(second["state_dict"][name], value, rtol=0, atol=0, msg=name)
    assert second["record"]["final_loss"] == first["record"]["final_loss"]
    assert second["record"]["restarts"] == first["record"]["restarts"]  # the choice survives the kill
    assert (tmp_path / "a" / "encodings.npz").read_bytes() != b""
    a_arrays = np.load(tmp_path / "a" / "encodings.npz")
    b_arrays = np.load(tmp_path / "b" / "encodings.npz")
    for name in a_arrays.files:
        if name != "info":  # info holds the training time
            np.testing.assert_array_equal(a_arrays[name], b_arrays[name], err_msg=name)
