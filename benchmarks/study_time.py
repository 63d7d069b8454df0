"""Where a finished study's time went: Snakemake's per-job benchmark files summed by rule.

Every rule writes ``logs/benchmarks/<rule>/…tsv`` (wall seconds ``s`` and ``cpu_time`` of the job's processes). The
CPU seconds add up to the work the study did whatever else ran on the machine; the wall seconds only on an idle one.

    python benchmarks/study_time.py [--root .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def job_times(root: Path) -> pd.DataFrame:
    """One row per job: rule, job (its benchmark file), wall and CPU seconds."""
    rows = []
    for path in sorted((root / "logs" / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(root / "logs" / "benchmarks").parts[0].removesuffix(".tsv")
        table = pd.read_csv(path, sep="\t")
        last = table.iloc[-1]
        rows.append({"rule": rule, "job": str(path), "wall_s": last["s"], "cpu_s": last["cpu_time"]})
    if not rows:
        raise SystemExit(f"no benchmark files under {root / 'logs' / 'benchmarks'}: run the study first")
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the study's directory")
    times = job_times(parser.parse_args().root)
    summary = times.groupby("rule").agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"))
    summary = summary.sort_values("cpu_s", ascending=False)
    summary.loc["total"] = summary.sum()
    print(summary.round(1).to_string())
    print("\nslowest jobs (wall s):")
    print(times.nlargest(8, "wall_s")[["job", "wall_s", "cpu_s"]].round(1).to_string(index=False))


if __name__ == "__main__":
    main()
