import subprocess

import yaml

REPORT = "reports/report.html"


def shown_files():
    """Every table and figure of the study (what the HTML report shows)."""
    figures = [p for e in config["experiments"] for p in figure_files(e)] + sample_grid_files()
    return [Path(p) for p in TABLES + figures]


def study_is_complete():
    """True when every table and figure exists; False after a partial run (a single target)."""
    return all(path.exists() for path in shown_files())


def report_is_stale():
    """True when the HTML report is missing or older than one of the tables and figures it shows."""
    newest = max(path.stat().st_mtime for path in shown_files())
    return not Path(REPORT).exists() or newest > Path(REPORT).stat().st_mtime


onsuccess:
    if study_is_complete():
        if report_is_stale():
            resolved = Path(".snakemake/mmcrl-resolved-config.yaml")
            resolved.write_text(yaml.safe_dump(dict(config), sort_keys=False))
            print(f"Writing the HTML report to {REPORT}")
            subprocess.run(
                ["snakemake", "--report", REPORT, "--configfile", str(resolved), "--replace-workflow-config"],
                check=True,
            )
        record_in_dvc()
