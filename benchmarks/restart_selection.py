"""Best-of-R restarts, simulated from ``tune_wcrl.py --inits`` logs: which run each selection rule keeps.

For each replicate with several initialisations, every R-subset of its runs is one simulated restarted run, and each
rule keeps one run of the subset:
- ``rule``: the rule ``training.restarts`` applies (:func:`mmcrl.selection.chosen_candidate`: the highest
  information score, near-ties broken by the lowest final training loss), at the committed tie tolerance or at each
  of ``--ties``;
- ``loss``: the lowest final training loss alone (docs/method.md, "Seventh increment");
- ``labels``: the best run by the labels (exact pattern first, then ``mcc_identifiable``) — the ceiling no label-free
  rule can pass.
Per dataset and R it prints, for each rule, the fraction of kept runs with the exact pattern and their mean
``mcc_identifiable``, averaged over all subsets, and the number of replicates with no exact run at all.

Usage:
  python benchmarks/tune_wcrl.py --datasets yao4 --seeds 100 101 --inits 0 1 2 3 4 > yao4.log
  python benchmarks/restart_selection.py yao4.log --restarts 1 3 5 --ties 0.005 0.02
"""

from __future__ import annotations

import argparse
import itertools
import re
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

from mmcrl.selection import INFORMATION_TIE, chosen_candidate

RUN = re.compile(
    r"(?P<dataset>\S+) seed (?P<seed>\d+) init (?P<init>\d+) .*mcc_identifiable=(?P<mcc>[\d.]+) "
    r"structure_exact=(?P<exact>\w+).*final_loss=(?P<loss>\S+).*information=(?P<information>[\d.]+)"
)


class Run(NamedTuple):
    """One training of a replicate, as ``tune_wcrl.py`` prints it."""

    loss: float
    information: float
    exact: bool
    mcc: float


def committed_rule(tie: float) -> Callable[[tuple[Run, ...]], Run]:
    """:func:`mmcrl.selection.chosen_candidate` with near-ties of the information score within ``tie``."""
    return lambda runs: runs[chosen_candidate([r.information for r in runs], [r.loss for r in runs], tie)]


def rules(ties: list[float]) -> dict[str, Callable[[tuple[Run, ...]], Run]]:
    """The rules compared: the committed rule at each tie tolerance, the loss alone, the labels."""
    return {
        **{f"rule(tie {tie:g})": committed_rule(tie) for tie in ties},
        "loss": lambda runs: min(runs, key=lambda r: r.loss),
        "labels": lambda runs: max(runs, key=lambda r: (r.exact, r.mcc)),
    }


def read_runs(paths: list[str]) -> dict[str, dict[int, list[Run]]]:
    """{dataset: {replicate seed: [one :class:`Run` per initialisation, in the order of the logs]}}."""
    runs: dict[str, dict[int, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        with open(path) as log:
            for line in log:
                if match := RUN.match(line):
                    run = Run(
                        float(match["loss"]), float(match["information"]), match["exact"] == "True", float(match["mcc"])
                    )
                    runs[match["dataset"]][int(match["seed"])].append(run)
    return runs


def best_of(
    replicates: dict[int, list[Run]], restarts: int, rule: Callable[[tuple[Run, ...]], Run]
) -> tuple[float, float, int]:
    """(exact fraction, mean mcc_identifiable, number of subsets) of the runs ``rule`` keeps from every R-subset of
    every replicate's runs."""
    kept = [
        rule(subset) for candidates in replicates.values() for subset in itertools.combinations(candidates, restarts)
    ]
    return sum(run.exact for run in kept) / len(kept), sum(run.mcc for run in kept) / len(kept), len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", help="tune_wcrl.py --inits output")
    parser.add_argument("--restarts", nargs="+", type=int, default=[1, 3, 5])
    parser.add_argument("--ties", nargs="+", type=float, default=[INFORMATION_TIE], help="tie tolerances of the rule")
    args = parser.parse_args()
    compared = rules(args.ties)
    for dataset, replicates in sorted(read_runs(args.logs).items()):
        fewest = min(len(candidates) for candidates in replicates.values())
        hopeless = sum(not any(run.exact for run in candidates) for candidates in replicates.values())
        print(f"{dataset}: {len(replicates)} replicates, {fewest}+ runs each, {hopeless} with no exact run")
        for restarts in args.restarts:
            if restarts > fewest:
                continue
            cells = []
            for name, rule in compared.items():
                exact, mcc, count = best_of(replicates, restarts, rule)
                cells.append(f"{name} {exact:.3f} / {mcc:.3f}")
            print(f"  R={restarts} ({count} subsets), exact / mcc: " + "; ".join(cells))


if __name__ == "__main__":
    main()
