"""Best-of-R restarts chosen by the final training loss, simulated from ``tune_wcrl.py --inits`` logs.

For each replicate with several initialisations, every R-subset of its runs keeps the run with the lowest final
training loss; prints, per dataset, the fraction of kept runs with the exact pattern and their mean
mcc_identifiable, averaged over all subsets (docs/method.md, "Seventh increment").

Usage:
  python benchmarks/tune_wcrl.py --datasets yao4 --seeds 100 101 --inits 0 1 2 3 4 > yao4.log
  python benchmarks/restart_selection.py yao4.log --restarts 1 2 3 5
"""

from __future__ import annotations

import argparse
import itertools
import re
from collections import defaultdict

RUN = re.compile(
    r"(?P<dataset>\S+) seed (?P<seed>\d+) init (?P<init>\d+) .*mcc_identifiable=(?P<mcc>[\d.]+) "
    r"structure_exact=(?P<exact>\w+).*final_loss=(?P<loss>\S+)"
)


def read_runs(paths: list[str]) -> dict[str, dict[int, list[tuple[float, bool, float]]]]:
    """{dataset: {replicate seed: [(final loss, exact, mcc_identifiable), one per initialisation]}}."""
    runs: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        with open(path) as log:
            for line in log:
                if match := RUN.match(line):
                    entry = (float(match["loss"]), match["exact"] == "True", float(match["mcc"]))
                    runs[match["dataset"]][int(match["seed"])].append(entry)
    return runs


def best_of(replicates: dict[int, list[tuple[float, bool, float]]], restarts: int) -> tuple[float, float, int]:
    """(exact fraction, mean mcc_identifiable, number of subsets) of the lowest-loss run of every R-subset."""
    kept = [
        min(subset) for candidates in replicates.values() for subset in itertools.combinations(candidates, restarts)
    ]
    return sum(run[1] for run in kept) / len(kept), sum(run[2] for run in kept) / len(kept), len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", help="tune_wcrl.py --inits output")
    parser.add_argument("--restarts", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args()
    for dataset, replicates in sorted(read_runs(args.logs).items()):
        fewest = min(len(candidates) for candidates in replicates.values())
        cells = []
        for restarts in args.restarts:
            if restarts <= fewest:
                exact, mcc, count = best_of(replicates, restarts)
                cells.append(f"R={restarts}: exact {exact:.2f}, mcc {mcc:.3f} ({count} subsets)")
        print(f"{dataset}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
