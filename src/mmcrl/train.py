"""Training: fit one method on one dataset with one seed, on CUDA when present, and save the checkpoint.

Adam (:mod:`mmcrl.optim`) with a linear warm-up then cosine decay of the learning rate (lr → lr · lr_final_fraction);
batches drawn uniformly with replacement from the training split by a generator seeded from the run's seed. A
non-finite loss stops training with :class:`TrainingDiverged` naming the run and the step.
"""

from __future__ import annotations

import copy
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
from mmcrl.io import atomic_write, derive_seed
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
    """The context every method gets: d_m, k_m = |S_m| + extra_dims, encoder kinds and size, the number of training
    steps and the learning rate, and (for the oracle) the pattern."""
    pattern = dataset.sharing_pattern
    return MethodContext(
        observed_dims=list(dataset.ground_truth["observed_dims"]),
        latent_dims=[int(size) + training["extra_dims"] for size in pattern.sum(axis=1)],
        width=training["width"],
        depth=training["depth"],
        tau=training["tau"],
        sharing_pattern=pattern,
        encoder_kinds=dataset.ground_truth.get("encoder_kinds"),
        steps=training["steps"],
        lr=training["lr"],
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

    A method that ``searches_structure`` is trained ``training.restarts`` times (R) when R > 1, from seed ``seed`` and
    R − 1 derived ones (:func:`restart_seed`); the candidate whose encodings best determine their observations on the
    validation split is kept (:func:`mmcrl.selection.information_score`, label-free; near-ties broken by the final
    training loss, :func:`mmcrl.selection.chosen_candidate`), and the record says which and why. Its
    ``train_seconds`` count every candidate.

    With ``progress_path``, the full training state (model, optimiser, batch generator, step, losses, and the
    candidates already finished) is written there atomically every ``training.checkpoint_every`` steps, and a run
    started again resumes from it when it belongs to the same run (method, options, training config, seed, data);
    the resumed run ends with the same model as an uninterrupted one (on CPU).
    """
    device = pick_device(training["device"])
    if device.type == "cpu":
        torch.set_num_threads(training["threads"])
    run = _start(dataset, method, params, training, seed, device)
    if not run.model.trainable:
        start = time.perf_counter()
        run.model.fit_data(dataset.split("train")[1], seed)
        seconds = time.perf_counter() - start
        return run.model.cpu(), _record(run_name, method, params, training, seed, device, seconds, [])
    tensors = [torch.from_numpy(x).to(device) for x in dataset.split("train")[1]]
    identity = json.dumps([method, params, _budget(training), seed, str(dataset.root)], sort_keys=True)
    count = restart_count(run.model, training)
    saved = _read_progress(progress_path, identity) if progress_path else None
    finished = list(saved["finished"]) if saved else []
    resumed = len(finished) if saved is not None else None  # the candidate the checkpoint holds mid-run
    for candidate in range(len(finished), count):
        name = run_name if count == 1 else f"{run_name} restart {candidate}"
        if candidate > 0:
            run = _start(dataset, method, params, training, restart_seed(seed, candidate), device)
        if candidate == resumed:
            run.resume(saved)
            log.info("%s resumed at step %d from %s", name, run.step, progress_path)
        _train(run, tensors, training, name, progress_path, identity, finished)
        if count > 1:
            finished.append(_scored(run, dataset))
    record_seconds, selection = run.seconds, None
    if count > 1:
        run, record_seconds, selection = _chosen(run, finished, run_name)
    record = _record(run_name, method, params, training, seed, device, record_seconds, run.losses)
    return run.model.cpu(), record | ({"restarts": selection} if selection else {})


class _Run:
    """One training run in progress: model, optimiser, batch generator, the next step, the losses so far and the
    seconds spent on it so far."""

    def __init__(self, model: Method, training: dict[str, Any], seed: int) -> None:
        self.model = model
        self.optimizer = Adam(model.parameters(), lr=training["lr"]) if model.trainable else None
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.step, self.losses, self.seconds = 0, [], 0.0

    def state(self, identity: str) -> dict[str, Any]:
        """What a checkpoint of the run in progress holds (:func:`_read_progress` reads it back)."""
        return {
            "identity": identity,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "losses": self.losses,
            "seconds": self.seconds,
        }

    def resume(self, saved: dict[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`state`."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.step, self.losses, self.seconds = saved["step"], saved["losses"], saved["seconds"]


def _start(
    dataset: Dataset, method: str, params: dict[str, Any], training: dict[str, Any], seed: int, device: torch.device
) -> _Run:
    """A fresh run: the model initialised from ``seed`` (torch's global generator) and the batch generator seeded."""
    torch.manual_seed(seed)
    return _Run(build_method(method, method_context(dataset, training), params).to(device), training, seed)


def _train(
    run: _Run,
    tensors: list[torch.Tensor],
    training: dict[str, Any],
    run_name: str,
    progress_path: str | Path | None,
    identity: str,
    finished: list[dict[str, Any]],
) -> None:
    """Adam steps from ``run.step`` to the end: each on a batch drawn with replacement, with the learning rate of
    :func:`learning_rate`; checkpoints (with the ``finished`` candidates) to ``progress_path``. Where the model's
    ``prepare_step`` reset its parameters, Adam starts again from zero moments. A non-finite loss raises
    :class:`TrainingDiverged`."""
    start, before = time.perf_counter(), run.seconds
    for step in range(run.step, training["steps"]):
        if run.model.prepare_step(step / training["steps"]):
            run.optimizer = Adam(run.model.parameters(), lr=training["lr"])
        run.optimizer.lr = learning_rate(step, training)
        index = torch.randint(tensors[0].shape[0], (training["batch_size"],), generator=run.generator)
        index = index.to(tensors[0].device)  # once per step, not once per modality
        loss = run.model.training_loss([x[index] for x in tensors], step / training["steps"])
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(f"{run_name}: loss became {value} at step {step}; lower training.lr")
        run.losses.append(value)
        run.step, run.seconds = step + 1, before + time.perf_counter() - start
        if step % training["log_every"] == 0 or step == training["steps"] - 1:
            log.info("%s step %d/%d loss %.4f", run_name, step, training["steps"], value)
        if progress_path and run.step % training["checkpoint_every"] == 0 and run.step < training["steps"]:
            progress = run.state(identity) | {"finished": finished}
            atomic_write(progress_path, lambda stream, progress=progress: torch.save(progress, stream))


def restart_count(model: Method, training: dict[str, Any]) -> int:
    """How many candidates a run trains: ``training.restarts`` for a method that searches a structure, else 1."""
    return training["restarts"] if model.searches_structure else 1


def restart_seed(seed: int, candidate: int) -> int:
    """The seed of restart ``candidate`` ≥ 1 of a run seeded ``seed`` (candidate 0 uses ``seed`` itself)."""
    return derive_seed("restart", seed, candidate) % 2**31


def validation_information(
    model: Method, dataset: Dataset, encodings: list[np.ndarray] | None = None
) -> tuple[float, list[float]]:
    """:func:`mmcrl.selection.information_score` of a model on the validation split: its ``encodings`` of it
    (computed here, in the model's current mode, when not given), text modalities scored as token ids."""
    from mmcrl.selection import information_score  # scikit-learn: imported only where a run is scored

    _, validation = dataset.split("val")
    categorical = [model.context.encoder_kind(m) == "text" for m in range(len(validation))]
    return information_score(encode(model, validation) if encodings is None else encodings, validation, categorical)


def _scored(run: _Run, dataset: Dataset) -> dict[str, Any]:
    """A finished candidate: its information score on the validation split, its state, losses and seconds."""
    score, per_modality = validation_information(run.model.eval(), dataset)
    run.model.train()
    model = copy.deepcopy(run.model.state_dict())  # tensors and the structure module's host state
    return {"score": score, "per_modality": per_modality, "model": model, "losses": run.losses, "seconds": run.seconds}


def _chosen(run: _Run, finished: list[dict[str, Any]], run_name: str) -> tuple[_Run, float, dict[str, Any]]:
    """The run holding the chosen candidate (:func:`mmcrl.selection.chosen_candidate`), the seconds of all
    candidates, and the record of the choice."""
    from mmcrl.selection import chosen_candidate

    scores = [candidate["score"] for candidate in finished]
    losses = [final_loss(candidate["losses"]) for candidate in finished]
    chosen = chosen_candidate(scores, losses)
    run.model.load_state_dict(finished[chosen]["model"])
    run.losses = finished[chosen]["losses"]
    log.info(
        "%s: restart %d chosen (information scores %s; final losses %s)",
        run_name,
        chosen,
        ", ".join(f"{s:.3f}" for s in scores),
        ", ".join(f"{loss:.3f}" for loss in losses),
    )
    selection = {
        "scores": scores,
        "final_losses": losses,
        "per_modality": [c["per_modality"] for c in finished],
        "chosen": chosen,
    }
    return run, sum(candidate["seconds"] for candidate in finished), selection


def final_loss(losses: list[float]) -> float:
    """The training loss a run ends with: the mean of its last 50 steps' losses."""
    return float(np.mean(losses[-50:]))


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
        "final_loss": final_loss(losses) if losses else None,
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
    """Encodings [f_m(x_m)] of whole arrays (on the model's device), as float64 numpy arrays."""
    device = next(model.parameters(), torch.empty(0)).device
    tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device) for x in observations]
    return [h.double().cpu().numpy() for h in model(tensors)]


def held_out_encodings(
    model: Method, dataset: Dataset, record: dict[str, Any]
) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """(encodings of each :data:`~mmcrl.encodings.HELD_OUT` split, info): what the method was told and its training
    time — the contents of ``encodings.npz``, which recovery and evaluation read."""
    encodings = {split: encode(model, dataset.split(split)[1]) for split in HELD_OUT}
    info = {"told": model.told, "told_pattern": model.told_pattern, "train_seconds": record["train_seconds"]}
    return encodings, info
