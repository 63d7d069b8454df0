"""Methods on problems where they should succeed, losses against their definitions, and checkpoints."""

import numpy as np
import pytest
import torch

from mmcrl.config import dataset_spec, validate_config
from mmcrl.data.synthetic import load_dataset, write_dataset
from mmcrl.methods import REGISTRY, MethodContext, build_method
from mmcrl.methods.losses import correspondence_infonce, pairwise_alignment, unexplained_variance, uniformity
from mmcrl.methods.wcrl import WCRL
from mmcrl.metrics import pattern_matches, r2_per_latent
from mmcrl.models.correspondence import Correspondence
from mmcrl.recover import recover_structure
from mmcrl.train import encode, fit, learning_rate, load_checkpoint, save_checkpoint

TRAINING = {
    "steps": 400,
    "batch_size": 256,
    "lr": 0.003,
    "lr_final_fraction": 0.05,
    "warmup_steps": 20,
    "width": 64,
    "depth": 2,
    "extra_dims": 0,
    "tau": 0.3,
    "device": "cpu",
    "threads": 1,
    "restarts": 1,
    "log_every": 1000,
}


def dataset(tmp_path, pattern, n_latents):
    spec = dataset_spec(
        "easy",
        n_latents=n_latents,
        pattern=pattern,
        dag={"edge_probability": 0.3},
        noise="uniform",
        mixing={"candidates": 100},
        n_train=4000,
        n_val=1000,
        n_test=1000,
    )
    write_dataset(spec, 0, tmp_path)
    return load_dataset(tmp_path)


def test_infonce_similarity_matches_its_definition():
    torch.manual_seed(0)
    u, v = torch.randn(5, 3), torch.randn(5, 2)
    weights = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
    signs = torch.tensor([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    similarity = torch.zeros(5, 5)
    for k in range(5):
        for n in range(5):
            for i in range(3):
                for j in range(2):
                    similarity[k, n] -= weights[i, j] * (u[k, i] - signs[i, j] * v[n, j]) ** 2 / 0.5
    targets = torch.arange(5)
    expected = 0.5 * (
        torch.nn.functional.cross_entropy(similarity, targets)
        + torch.nn.functional.cross_entropy(similarity.T, targets)
    )
    torch.testing.assert_close(correspondence_infonce(u, v, Correspondence.of(weights, signs), 0.5), expected)


def test_a_fixed_empty_correspondence_contributes_nothing_and_a_learned_one_its_gradient():
    torch.manual_seed(0)
    u, v = torch.randn(8, 2), torch.randn(8, 2)
    empty = torch.zeros(2, 2)
    assert float(pairwise_alignment([u, v], [(0, 1)], [Correspondence.of(empty)], 0.5)) == 0.0
    learned = empty.clone().requires_grad_(True)
    loss = pairwise_alignment([u, v], [(0, 1)], [Correspondence.of(learned)], 0.5)
    torch.testing.assert_close(loss, torch.tensor(np.log(8.0), dtype=torch.float32))  # all logits equal: log B
    loss.backward()
    assert learned.grad.abs().sum() > 0


def test_uniformity_matches_its_definition_and_stays_finite_when_points_are_far():
    u = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = torch.log(torch.stack([torch.exp(-((u[a] - u[b]) ** 2).sum()) for a, b in pairs]).mean())
    torch.testing.assert_close(uniformity(u), expected)
    assert torch.isfinite(uniformity(u * 100.0))


def test_learning_rate_warms_up_then_decays_to_the_final_fraction():
    assert learning_rate(0, TRAINING) == pytest.approx(0.003 / 20)
    assert learning_rate(20, TRAINING) == pytest.approx(0.003)
    assert learning_rate(400, TRAINING) == pytest.approx(0.003 * 0.05)


def test_oracle_recovers_a_shared_latent_component_wise(tmp_path):
    data = dataset(tmp_path, [[0, 1], [0, 2]], 3)
    model, record = fit(data, "oracle", {}, TRAINING, seed=0, run_name="test")
    z, observations = data.split("test")
    for m, h in enumerate(encode(model, observations)):
        correlation = abs(np.corrcoef(z[:, 0], h[:, 0])[0, 1])  # the oracle's coordinate 0 is latent 0 in both
        assert correlation > 0.9, (m, correlation)
    assert record["train_seconds"] > 0 and np.isfinite(record["final_loss"])


def test_mcl_recovers_the_shared_block_when_everything_is_shared(tmp_path):
    data = dataset(tmp_path, [[0, 1], [0, 1]], 2)
    model, _ = fit(data, "mcl", {}, TRAINING, seed=0, run_name="test")
    z_val, x_val = data.split("val")
    z_test, x_test = data.split("test")
    h_val, h_test = encode(model, x_val), encode(model, x_test)
    r2 = r2_per_latent(z_val, h_val[0], z_test, h_test[0], kind="kernel")
    assert r2.min() >= 0.9, r2


def test_wcrl_recovers_a_randomly_drawn_five_modality_pattern_without_being_told(tmp_path):
    """A pattern nobody developed on (5 modalities, 8 latents, unique signatures, pattern seed drawn once: 5150),
    small scale: the recovered sharing pattern is the true one up to the order of the latents. (Its true matches
    have held-out |corr| ≥ 0.95, two spurious ones ≈ 0.83: it failed at the earlier recovery threshold 0.8.)"""
    pattern = {"n_modalities": 5, "n_shared": 6, "unique_signatures": True, "seed": 5150}
    data = dataset(tmp_path, pattern, 8)
    model, _ = fit(data, "wcrl", {}, TRAINING | {"steps": 600}, seed=0, run_name="test")
    threshold = validate_config({})["recover"]["min_correlation"]  # the study's recovery threshold
    structure = recover_structure(encode(model, data.split("val")[1]), min_correlation=threshold)
    assert pattern_matches(data.sharing_pattern, np.asarray(structure["recovered_pattern"])), structure


def test_only_the_oracle_is_told_the_pattern():
    context = MethodContext([4, 4], [2, 2], 8, 1, 0.3, np.array([[1, 1, 0], [1, 0, 1]]))
    assert build_method("oracle", context, {}).context.sharing_pattern is not None
    for name in set(REGISTRY) - {"oracle"}:
        assert build_method(name, context, {}).context.sharing_pattern is None
    with pytest.raises(ValueError, match="does not use option"):
        build_method("mcl", context, {"dustbin": 1})


def test_checkpoint_round_trip_and_a_corrupt_checkpoint_is_named(tmp_path):
    data = dataset(tmp_path / "data", [[0, 1], [0, 2]], 3)
    model, record = fit(data, "mcl", {}, TRAINING | {"steps": 5}, seed=0, run_name="test")
    save_checkpoint(tmp_path / "model.pt", model, record)
    loaded, loaded_record = load_checkpoint(tmp_path / "model.pt")
    _, observations = data.split("test")
    for before, after in zip(encode(model, observations), encode(loaded, observations), strict=True):
        np.testing.assert_array_equal(before, after)
    assert loaded_record["seed"] == 0
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt: not a readable mmcrl checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")


def test_divergence_stops_with_a_message_naming_the_run(tmp_path):
    from mmcrl.train import TrainingDiverged

    data = dataset(tmp_path, [[0, 1], [0, 2]], 3)
    with pytest.raises(TrainingDiverged, match="exp/easy/mcl/seed0: loss became nan"):
        fit(data, "mcl", {"tau": 1e-300}, TRAINING | {"steps": 3, "lr": 1e30}, seed=0, run_name="exp/easy/mcl/seed0")


@pytest.mark.parametrize("method", ["oracle", "wcrl"])
def test_training_is_deterministic_on_cpu(tmp_path, method):
    data = dataset(tmp_path, [[0, 1], [0, 2]], 3)
    first, _ = fit(data, method, {}, TRAINING | {"steps": 30}, seed=5, run_name="test")
    second, _ = fit(data, method, {}, TRAINING | {"steps": 30}, seed=5, run_name="test")
    for name, value in first.state_dict().items():
        torch.testing.assert_close(value, second.state_dict()[name], rtol=0, atol=0, msg=name)


def test_refit_at_freeze_restarts_the_encoders_from_their_initial_weights_once():
    context = MethodContext([4, 4], [2, 2], 8, 1, 0.3, steps=100, lr=0.003)
    torch.manual_seed(0)
    model = build_method("wcrl", context, {"refit_at_freeze": True})
    initial = {name: value.clone() for name, value in model.encoders.state_dict().items()}
    freeze = model.structure.freeze_start
    with torch.no_grad():
        for parameter in model.encoders.parameters():
            parameter.add_(1.0)  # stands for the soft phase's training
    assert not model.prepare_step(freeze - 0.01)
    assert not model.structure.frozen
    assert model.prepare_step(freeze)
    assert model.structure.frozen
    for name, value in model.encoders.state_dict().items():
        torch.testing.assert_close(value, initial[name], rtol=0, atol=0, msg=name)
    assert not model.prepare_step(freeze + 0.01)  # once
    assert not build_method("wcrl", context, {}).prepare_step(freeze)  # off by default: the module freezes alone


def test_unexplained_variance_on_hand_made_cases():
    target = torch.tensor([[1.0, 10.0], [-1.0, 30.0], [3.0, 20.0], [-3.0, 20.0]])  # column variances 5 and 50
    assert unexplained_variance(target, target).item() == 0.0
    means = target.mean(dim=0).expand_as(target)
    torch.testing.assert_close(unexplained_variance(means, target), torch.tensor(1.0))
    halfway = means + 0.5 * (target - means)  # leaves (1/2)² of each column's variance
    torch.testing.assert_close(unexplained_variance(halfway, target), torch.tensor(0.25))
    off_in_one_column = target + torch.tensor([[0.0, 5.0], [0.0, -5.0], [0.0, 5.0], [0.0, -5.0]])
    torch.testing.assert_close(unexplained_variance(off_in_one_column, target), torch.tensor(0.25))  # (0 + 25/50) / 2


def test_wcrl_reconstruction_starts_at_the_freeze_and_decodes_real_valued_modalities_only():
    context = MethodContext([4, 192], [2, 2], 8, 1, 0.3, encoder_kinds=["mlp", "cnn"], steps=100, lr=0.003)
    torch.manual_seed(0)
    model = build_method("wcrl", context, {"frozen_reconstruction_weight": 2.0})
    assert list(model.decoders) == ["0"]  # the image modality has no decoder
    assert not build_method("wcrl", context, {}).decoders  # off by default
    observations = [torch.randn(16, 4), torch.randint(0, 256, (16, 192)).float()]
    before = model.training_loss(observations, 0.0)
    before.backward()
    assert all(p.grad is None for p in model.decoders.parameters())  # not during the search
    model.structure.freeze_plans()
    encodings = model(observations)
    reconstruction = unexplained_variance(model.decoders["0"](encodings[0]), observations[0])
    expected = model.loss(encodings, 0.9) + 2.0 * reconstruction
    after = model.training_loss(observations, 0.9)
    torch.testing.assert_close(after, expected)
    after.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoders.parameters())


def test_the_trainer_restarts_adam_when_a_method_resets_its_parameters(tmp_path, monkeypatch):
    """After the refit the first Adam step moves every weight by lr (zero moments: m̂ / √v̂ = ±1), as at step 0."""
    data = dataset(tmp_path, [[0, 1], [0, 2]], 3)
    training = TRAINING | {"steps": 40, "warmup_steps": 1, "lr_final_fraction": 1.0}
    snapshots = []
    original = WCRL.prepare_step

    def recording(self, progress):
        reset = original(self, progress)
        snapshots.append((reset, [p.detach().clone() for p in self.encoders.parameters()]))
        return reset

    monkeypatch.setattr("mmcrl.methods.wcrl.WCRL.prepare_step", recording)
    fit(data, "wcrl", {"refit_at_freeze": True, "freeze_fraction": 0.5}, training, seed=0, run_name="test")
    (at,) = [i for i, (reset, _) in enumerate(snapshots) if reset]
    assert at == 20

    def share_moved_by_lr(step):
        moved = torch.cat([(after - before).abs().flatten() for before, after in zip(*step, strict=True)])
        return ((moved - training["lr"]).abs() < 1e-3 * training["lr"]).float().mean().item()

    after_refit = [snapshots[at][1], snapshots[at + 1][1]]
    later = [snapshots[at + 5][1], snapshots[at + 6][1]]
    assert share_moved_by_lr(after_refit) > 0.95 > 0.5 > share_moved_by_lr(later)
