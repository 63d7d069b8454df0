rule aggregate:
    """Gather every run into tidy tables (runs.csv, latents.csv), per-experiment summaries and DVC metrics."""
    input:
        metrics=all_metrics_files(),
        code=code("aggregate.py"),
    output:
        runs=report(
            "reports/tables/runs.csv",
            caption="../report/runs.rst",
            category="All runs",
            labels={"table": "every run"},
        ),
        latents=report(
            "reports/tables/latents.csv",
            caption="../report/latents_table.rst",
            category="All runs",
            labels={"table": "every latent of every run"},
        ),
        summaries=[
            report(
                f"reports/tables/{experiment}.csv",
                caption="../report/summary.rst",
                category=experiment,
                subcategory="Summary table",
                labels={"table": "mean ± std over seeds"},
            )
            for experiment in config["experiments"]
        ],
        markdown=[f"reports/tables/{experiment}.md" for experiment in config["experiments"]],
        comparison=report(
            "reports/tables/comparison.md",
            caption="../report/comparison_table.rst",
            category="Paper comparison",
            labels={"table": "every method on every dataset"},
        ),
        comparison_latex="reports/tables/comparison.tex",
        metrics="reports/metrics.json",
        factors="reports/tables/factors.csv",
        downstream=report(
            "reports/tables/downstream.csv",
            caption="../report/downstream.rst",
            category="Tables",
            labels={"table": "downstream probe"},
        ),
        downstream_markdown="reports/tables/downstream.md",
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "logs/benchmarks/aggregate.tsv"
    shell:
        "mmcrl aggregate {input.metrics} --out-dir reports/tables --metrics-json {output.metrics} 2> {log}"
