"""Where a finished study's time went: Snakemake's per-job benchmark files summed by rule.

Every rule writes ``logs/benchmarks/<rule>/…tsv``; its wall seconds ``s`` say where the time went when the study ran
alone on the machine. (Its ``cpu_time`` is sampled every few seconds and misses a job's last interval, so it is not
summed here.)

    python benchmarks/study_time.py [--root .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def job_times(root: Path) -> pd.DataFrame:
    """One row per job: rule, job (its benchmark file), wall seconds."""
    rows = []
    for path in sorted((root / "logs" / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(root / "logs" / "benchmarks").parts[0].removesuffix(".tsv")
        table = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "job": str(path), "wall_s": table["s"].iloc[-1]})
    if not rows:
        raise SystemExit(f"no benchmark files under {root / 'logs' / 'benchmarks'}: run the study first")
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the study's directory")
    times = job_times(parser.parse_args().root)
    summary = times.groupby("rule").agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), mean_s=("wall_s", "mean"))
    summary = summary.sort_values("wall_s", ascending=False)
    summary.loc["total"] = [summary["jobs"].sum(), summary["wall_s"].sum(), times["wall_s"].mean()]
    print(summary.round(1).to_string())
    print("\nslowest jobs (wall s):")
    print(times.nlargest(8, "wall_s")[["job", "wall_s"]].round(1).to_string(index=False))


if __name__ == "__main__":
    main()
