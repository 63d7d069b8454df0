"""How well each latent a modality does not see is predicted from the latents it sees, per dataset replicate.

A latent j ∉ S_m that the causal DAG makes predictable from z_{S_m} can take over a coordinate of modality m during
training (the yao4 s106 trace, docs/method.md, "Sixth increment"). For every modality m and unseen latent j this
prints R² of a k-nearest-neighbour regression of z_j on z_{S_m} (fitted on the first ``--fit`` samples of the
training split, scored on the next ``--score``), highest first, so that hard replicates can be set beside it. Reads
the generated data only; trains nothing.

Usage:
  python benchmarks/unseen_predictability.py --dataset yao4 --seeds 100 101 102
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.neighbors import KNeighborsRegressor

from mmcrl.config import load_config
from mmcrl.data.synthetic import SyntheticSpec, generate


def unseen_r2(latents: np.ndarray, pattern: np.ndarray, fit: int, score: int, neighbours: int) -> list[tuple]:
    """(R², m, j) for every modality m and latent j ∉ S_m, highest R² first."""
    train, test = latents[:fit], latents[fit : fit + score]
    scores = []
    for m, row in enumerate(pattern):
        seen = np.flatnonzero(row)
        for j in np.flatnonzero(row == 0):
            regression = KNeighborsRegressor(neighbours).fit(train[:, seen], train[:, j])
            residual = test[:, j] - regression.predict(test[:, seen])
            scores.append((1.0 - residual.var() / test[:, j].var(), m, int(j)))
    return sorted(scores, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="yao4")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(100, 112)))
    parser.add_argument("--fit", type=int, default=4000)
    parser.add_argument("--score", type=int, default=2000)
    parser.add_argument("--neighbours", type=int, default=25)
    args = parser.parse_args()
    config = load_config(args.config)
    spec = SyntheticSpec.from_config(args.dataset, config["datasets"][args.dataset])
    pattern = np.asarray(spec.sharing_pattern())
    for seed in args.seeds:
        latents = generate(spec, seed)[0]["train"]["z"]
        scores = unseen_r2(latents, pattern, args.fit, args.score, args.neighbours)
        print(f"{args.dataset} seed {seed}: " + "  ".join(f"z{j}|m{m} {r2:.2f}" for r2, m, j in scores))


if __name__ == "__main__":
    main()
