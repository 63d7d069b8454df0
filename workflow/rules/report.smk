import subprocess

import yaml

REPORT = "reports/report.html"


def report_is_stale():
    """True when every table and figure exists and the HTML report is missing or older than one of them."""
    figures = [p for e in config["experiments"] for p in figure_files(e)] + sample_grid_files()
    shown = [Path(p) for p in TABLES + figures]
    if not all(path.exists() for path in shown):
        return False  # a partial run (a single target): the report waits for the whole study
    return not Path(REPORT).exists() or max(p.stat().st_mtime for p in shown) > Path(REPORT).stat().st_mtime


onsuccess:
    if report_is_stale():
        resolved = Path(".snakemake/mmcrl-resolved-config.yaml")
        resolved.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        print(f"Writing the HTML report to {REPORT}")
        subprocess.run(
            ["snakemake", "--report", REPORT, "--configfile", str(resolved), "--replace-workflow-config"],
            check=True,
        )
