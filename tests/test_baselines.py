"""The baselines from the literature, each on a problem where its own assumptions hold, plus options and checkpoints.

A weak result of a baseline in the comparison must not be blamed on a broken implementation: each test here is a case
the method's paper says it solves (``mcl``'s is in test_methods.py: the shared block of two modalities, R² ≥ 0.9).
"""

import copy

import numpy as np
import pytest
import torch
from test_methods import TRAINING, dataset

from mmcrl.methods import MethodContext, build_method
from mmcrl.methods.base import content_sizes
from mmcrl.metrics import matched_correlations, r2_per_latent
from mmcrl.train import encode, fit, load_checkpoint, save_checkpoint

NEW_METHODS = ["mvcrl", "ica-match", "mmvae", "mmvae-w"]


def linear_ica_problem(n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Independent latents with pairwise different non-Gaussian marginals, pattern [[0, 1, 2], [0, 1, 3]], each
    modality a random linear map to 5 observed dimensions. The shared latents are skewed (exponential; a lopsided
    Gaussian mixture), as Sturma et al. assume, so that the marginals also fix the sign; the private ones are uniform
    and a symmetric bimodal mixture."""
    rng = np.random.default_rng(seed)
    z = np.stack(
        [
            rng.exponential(size=n),
            rng.normal(0, 1, n) + 3.0 * (rng.uniform(size=n) < 0.2),
            rng.uniform(-1, 1, n),
            rng.choice([-2.0, 2.0], n) + rng.normal(0, 0.5, n),
        ],
        axis=1,
    )
    subsets = [[0, 1, 2], [0, 1, 3]]
    return z, [z[:, subset] @ rng.normal(size=(3, 5)) for subset in subsets]


def test_content_sizes_are_the_intersections_of_every_subset_of_modalities():
    pattern = np.array([[1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 1, 0], [0, 1, 1, 0, 0, 1]])  # chain3
    assert content_sizes(pattern) == {(0, 1): 2, (0, 2): 1, (1, 2): 2, (0, 1, 2): 1}


def test_ica_match_recovers_and_matches_the_shared_components_under_linear_mixing():
    z, observations = linear_ica_problem(6000, seed=0)
    context = MethodContext([5, 5], [3, 3], 8, 1, 0.3)
    model = build_method("ica-match", context, {})
    model.fit_data(observations, seed=0)
    encodings = encode(model, observations)
    for h, subset in zip(encodings, [[0, 1, 2], [0, 1, 3]], strict=True):
        scores, _ = matched_correlations(z[:, subset], h)
        assert scores.mean() >= 0.9, scores
    # the two shared latents are matched, each to its counterpart, and nothing else
    matched = model.matched_0_1.numpy()
    assert matched.sum() == 2, matched
    for i, j in zip(*np.nonzero(matched), strict=True):
        latent_a = np.argmax(np.abs(np.corrcoef(encodings[0][:, i], z[:, :3].T)[0, 1:]))
        latent_b = np.argmax(np.abs(np.corrcoef(encodings[1][:, j], z[:, [0, 1, 3]].T)[0, 1:]))
        assert latent_a == latent_b and latent_a in (0, 1)
        assert np.corrcoef(encodings[0][:, i], encodings[1][:, j])[0, 1] > 0.95  # aligned and signed alike


def test_mvcrl_recovers_the_content_block_of_each_subset(tmp_path):
    pattern = [[0, 1, 2], [0, 1, 3], [0, 4]]  # contents: {0,1} for (0,1); {0} for (0,2), (1,2), (0,1,2)
    data = dataset(tmp_path, pattern, 5)
    model, _ = fit(data, "mvcrl", {}, TRAINING, seed=0, run_name="test")
    (z_val, x_val), (z_test, x_test) = data.split("val"), data.split("test")
    h_val, h_test = encode(model, x_val), encode(model, x_test)
    for m in range(3):
        content = [0, 1] if m < 2 else [0]
        r2 = r2_per_latent(z_val[:, content], h_val[m], z_test[:, content], h_test[m], kind="kernel")
        assert r2.min() >= 0.9, (m, r2)


def test_mmvae_reconstructs_and_its_shared_part_predicts_the_shared_latents(tmp_path):
    data = dataset(tmp_path, [[0, 1], [0, 1]], 2)
    model, record = fit(data, "mmvae", {"shared_dims": 2}, TRAINING, seed=0, run_name="test")
    (z_val, x_val), (z_test, x_test) = data.split("val"), data.split("test")
    h_val, h_test = encode(model, x_val), encode(model, x_test)
    with torch.no_grad():
        tensors = [torch.from_numpy(x).float() for x in x_test]
        for m, (decoder, x) in enumerate(zip(model.decoders, tensors, strict=True)):
            reconstruction = decoder(torch.from_numpy(h_test[m]).float())
            explained = 1 - (reconstruction - x).square().sum() / (x - x.mean(0)).square().sum()
            assert explained >= 0.95, (m, float(explained))
    for m in range(2):
        r2 = r2_per_latent(z_val, h_val[m], z_test, h_test[m], kind="kernel")
        assert r2.min() >= 0.9, (m, r2)


def test_mmvae_w_adds_the_structure_term_and_its_gradient_reaches_the_encoders():
    context = MethodContext([6, 6, 5], [3, 3, 2], 16, 1, 0.3)
    torch.manual_seed(0)
    vae = build_method("mmvae", context, {})
    torch.manual_seed(0)
    plugged = build_method("mmvae-w", context, {"structure_weight": 2.0})
    batch = [torch.randn(64, d) for d in context.observed_dims]
    torch.manual_seed(1)
    base_loss = vae.training_loss(batch, 0.1)
    structure = copy.deepcopy(plugged.structure)  # its Sinkhorn warm start changes with each call
    torch.manual_seed(1)
    total = plugged.training_loss(batch, 0.1)
    means = plugged(batch)
    expected = 2.0 * structure.alignment_loss(means, 0.1, 0.3)
    torch.testing.assert_close(total - base_loss, expected, rtol=1e-4, atol=1e-4)
    plugged.zero_grad()
    plugged.latent_regulariser(means, 0.1).backward()
    for m, encoder in enumerate(plugged.encoders):
        gradient = sum(p.grad.abs().sum() for p in encoder.parameters())
        assert torch.isfinite(gradient) and gradient > 0, m
    assert all(p.grad is None for p in plugged.decoders.parameters())


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("mvcrl", {"dustbin": True}, "does not use option"),
        ("ica-match", {"tau": 0.3}, "does not use option"),
        ("mmvae", {"shared_dims": 3}, "shared_dims 3 must lie in"),
        ("mmvae", {"tau": 0.3}, "does not use option"),
        ("mmvae-w", {"cost": "nope"}, "structure cost 'nope' is not one of"),
    ],
)
def test_baselines_refuse_bad_options(method, params, message):
    context = MethodContext([4, 4], [2, 2], 8, 1, 0.3, np.array([[1, 1, 0], [1, 0, 1]]))
    with pytest.raises(ValueError, match=message):
        build_method(method, context, params)


def test_mvcrl_is_told_the_content_sizes_and_nothing_else():
    context = MethodContext([4, 4], [2, 2], 8, 1, 0.3, np.array([[1, 1, 0], [1, 0, 1]]))
    model = build_method("mvcrl", context, {})
    assert model.context.sharing_pattern is None and model.context.content_sizes == {(0, 1): 1}
    assert build_method("mmvae", context, {}).context.content_sizes is None
    with pytest.raises(ValueError, match="needs the content sizes"):
        build_method("mvcrl", MethodContext([4, 4], [2, 2], 8, 1, 0.3), {})


@pytest.mark.parametrize("method", NEW_METHODS)
def test_baseline_checkpoint_round_trip(tmp_path, method):
    data = dataset(tmp_path / "data", [[0, 1], [0, 2]], 3)
    model, record = fit(data, method, {}, TRAINING | {"steps": 5}, seed=0, run_name="test")
    save_checkpoint(tmp_path / "model.pt", model, record)
    loaded, _ = load_checkpoint(tmp_path / "model.pt")
    _, observations = data.split("test")
    before, after = encode(model, observations), encode(loaded, observations)
    for h, h_loaded, k in zip(before, after, [2, 2], strict=True):
        assert h.shape[1] == k and np.abs(h).sum() > 0
        np.testing.assert_array_equal(h, h_loaded)
