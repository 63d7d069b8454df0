"""benchmarks/unseen_predictability.py on a planted case whose R² is known by construction."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "unseen_predictability.py"


def test_unseen_latents_are_scored_by_how_predictable_they_are_from_the_seen_ones():
    spec = importlib.util.spec_from_file_location("unseen_predictability", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    z0, z2 = rng.standard_normal(3000), rng.standard_normal(3000)
    latents = np.stack([z0, np.tanh(2 * z0), z2], axis=1)  # z1 = tanh(2 z0): a function of z0; z2 independent
    pattern = np.array([[1, 0, 0], [0, 0, 1]])  # m0 sees z0 only, m1 sees z2 only
    scores = {(m, j): r2 for r2, m, j in module.unseen_r2(latents, pattern, 2000, 1000, 25)}
    assert set(scores) == {(0, 1), (0, 2), (1, 0), (1, 1)}
    assert scores[(0, 1)] > 0.95  # z1 from z0: nearly exact
    assert abs(scores[(0, 2)]) < 0.1 and abs(scores[(1, 0)]) < 0.1 and abs(scores[(1, 1)]) < 0.1  # independent
