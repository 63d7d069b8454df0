"""Training: fit one method on one dataset with one seed, on CUDA when present, and save the checkpoint.

Adam (:mod:`mmcrl.optim`) with a linear warm-up then cosine decay of the learning rate (lr → lr · lr_final_fraction);
batches drawn uniformly with replacement from the training split by a generator seeded from the run's seed. A
non-finite loss stops training with :class:`TrainingDiverged` naming the run and the step.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcrl.data.synthetic import Dataset
from mmcrl.encodings import HELD_OUT
from mmcrl.io import atomic_write
from mmcrl.methods import MethodContext, build_method
from mmcrl.methods.base import Method
from mmcrl.optim import Adam

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def pick_device(requested: str) -> torch.device:
    """``auto`` → CUDA if available, else CPU; ``cuda`` without a GPU is an error."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def learning_rate(step: int, training: dict[str, Any]) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine from lr to lr · lr_final_fraction at the last step."""
    peak, final = training["lr"], training["lr"] * training["lr_final_fraction"]
    warmup = training["warmup_steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, training["steps"] - warmup)
    return final + 0.5 * (peak - final) * (1.0 + math.cos(math.pi * progress))


def method_context(dataset: Dataset, training: dict[str, Any]) -> MethodContext:
    """The context every method gets: d_m, k_m = |S_m| + extra_dims, encoder kinds and size, and (for the oracle)
    the pattern."""
    pattern = dataset.sharing_pattern
    return MethodContext(
        observed_dims=list(dataset.ground_truth["observed_dims"]),
        latent_dims=[int(size) + training["extra_dims"] for size in pattern.sum(axis=1)],
        width=training["width"],
        depth=training["depth"],
        tau=training["tau"],
        sharing_pattern=pattern,
        encoder_kinds=dataset.ground_truth.get("encoder_kinds"),
    )


def fit(
    dataset: Dataset,
    method: str,
    params: dict[str, Any],
    training: dict[str, Any],
    seed: int,
    run_name: str,
    progress_path: str | Path | None = None,
) -> tuple[Method, dict[str, Any]]:
    """Train ``method`` on the dataset's training split; returns the model (on CPU) and a record of the run. A method
    that is not ``trainable`` is fitted by its ``fit_data`` on the whole training split instead of the Adam loop.

    With ``progress_path``, the full training state (model, optimiser, batch generator, step, losses) is written there
    atomically every ``training.checkpoint_every`` steps, and a run started again resumes from it when it belongs to
    the same run (method, options, training config, seed, data); the resumed run ends with the same model as an
    uninterrupted one (on CPU).
    """
    torch.manual_seed(seed)
    device = pick_device(training["device"])
    if device.type == "cpu":
        torch.set_num_threads(training["threads"])
    model = build_method(method, method_context(dataset, training), params).to(device)
    _, observations = dataset.split("train")
    if not model.trainable:
        start = time.perf_counter()
        model.fit_data(observations, seed)
        seconds = time.perf_counter() - start
        return model.cpu(), _record(run_name, method, params, training, seed, device, seconds, [])
    tensors = [torch.from_numpy(x).to(device) for x in observations]
    n_samples = tensors[0].shape[0]
    optimizer = Adam(model.parameters(), lr=training["lr"])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    identity = json.dumps([method, params, _budget(training), seed, str(dataset.root)], sort_keys=True)
    first_step, losses, earlier_seconds = 0, [], 0.0
    saved = _read_progress(progress_path, identity) if progress_path else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        first_step, losses, earlier_seconds = saved["step"], saved["losses"], saved["seconds"]
        log.info("%s resumed at step %d from %s", run_name, first_step, progress_path)
    start = time.perf_counter()
    for step in range(first_step, training["steps"]):
        optimizer.lr = learning_rate(step, training)
        index = torch.randint(n_samples, (training["batch_size"],), generator=generator).to(device)
        loss = model.training_loss([x[index] for x in tensors], step / training["steps"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(f"{run_name}: loss became {value} at step {step}; lower training.lr")
        losses.append(value)
        if step % training["log_every"] == 0 or step == training["steps"] - 1:
            log.info("%s step %d/%d loss %.4f", run_name, step, training["steps"], value)
        if progress_path and (step + 1) % training["checkpoint_every"] == 0 and step + 1 < training["steps"]:
            progress = {
                "identity": identity,
                "step": step + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(),
                "losses": losses,
                "seconds": earlier_seconds + time.perf_counter() - start,
            }
            atomic_write(progress_path, lambda stream, progress=progress: torch.save(progress, stream))
    seconds = earlier_seconds + time.perf_counter() - start
    return model.cpu(), _record(run_name, method, params, training, seed, device, seconds, losses)


def _record(
    run_name: str,
    method: str,
    params: dict[str, Any],
    training: dict[str, Any],
    seed: int,
    device: torch.device,
    seconds: float,
    losses: list[float],
) -> dict[str, Any]:
    """The record of a run saved with its checkpoint (no loss for a method fitted without gradient training)."""
    return {
        "run": run_name,
        "method": method,
        "params": params,
        "training": training,
        "seed": seed,
        "device": str(device),
        "train_seconds": seconds,
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "loss_curve": losses[:: max(1, len(losses) // 200)],
    }


def _budget(training: dict[str, Any]) -> dict[str, Any]:
    """The training settings that change the result (not logging, checkpointing, device or threads)."""
    return {k: v for k, v in training.items() if k not in ("log_every", "checkpoint_every", "device", "threads")}


def _read_progress(path: str | Path, identity: str) -> dict[str, Any] | None:
    """The saved training state at ``path`` if it exists, is readable and belongs to this run; else None."""
    if not Path(path).exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError):
        log.warning("ignoring unreadable training state %s", path)
        return None
    if saved.get("identity") != identity:
        log.warning("ignoring training state %s: it belongs to another run or configuration", path)
        return None
    return saved


def save_checkpoint(path: str | Path, model: Method, record: dict[str, Any]) -> Path:
    """Write the model's state, its context and the run record atomically."""
    payload = {"record": record, "context": model.context.__dict__, "state_dict": model.state_dict()}
    return atomic_write(path, lambda stream: torch.save(payload, stream))


def load_checkpoint(path: str | Path) -> tuple[Method, dict[str, Any]]:
    """Rebuild a trained model from :func:`save_checkpoint`'s file; a bad file raises ``ValueError`` naming it."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        record = payload["record"]
        model = build_method(record["method"], MethodContext(**payload["context"]), record["params"])
        model.load_state_dict(payload["state_dict"])
    except FileNotFoundError as error:
        raise ValueError(f"{path}: checkpoint not found; run `mmcrl train` first") from error
    except (KeyError, RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path}: not a readable mmcrl checkpoint ({type(error).__name__}: {error})") from error
    return model.eval(), record


@torch.no_grad()
def encode(model: Method, observations: list[np.ndarray]) -> list[np.ndarray]:
    """Encodings [f_m(x_m)] of whole arrays, as float64 numpy arrays."""
    tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in observations]
    return [h.double().numpy() for h in model(tensors)]


def held_out_encodings(
    model: Method, dataset: Dataset, record: dict[str, Any]
) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """(encodings of each :data:`~mmcrl.encodings.HELD_OUT` split, info): what the method was told and its training
    time — the contents of ``encodings.npz``, which recovery and evaluation read."""
    encodings = {split: encode(model, dataset.split(split)[1]) for split in HELD_OUT}
    info = {"told": model.told, "told_pattern": model.told_pattern, "train_seconds": record["train_seconds"]}
    return encodings, info
