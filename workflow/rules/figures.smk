FIGURE_CAPTIONS = {
    "mcc": ("Identifiability", "mean matched correlation per method and dataset"),
    "latents": ("Per-latent recovery", "matched correlation per latent"),
    "patterns": ("Structure recovery", "true vs recovered sharing pattern"),
    "comparison": ("Comparison", "every method on every dataset"),
}


def figure_output(name, fmt):
    path = f"reports/figures/{{experiment}}/{name}.{fmt}"
    if fmt != "png":
        return path
    subcategory, label = FIGURE_CAPTIONS[name]
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="{experiment}",
        subcategory=subcategory,
        labels={"figure": label},
    )


rule figures:
    """Draw one experiment's figures (seaborn) from the tables and its runs' metrics."""
    input:
        tables=["reports/tables/runs.csv", "reports/tables/latents.csv"],
        metrics=lambda w: metrics_files(w.experiment),
        code=code("figures.py"),
    output:
        [figure_output(name, fmt) for name in FIGURES for fmt in config["figures"]["formats"]],
    params:
        config=config_slice(figures=config["figures"]),
    log:
        "logs/figures/{experiment}.log",
    shell:
        "mmcrl figures --config {params.config:q} --experiment {wildcards.experiment} --tables reports/tables"
        " --runs {input.metrics} --out-dir reports/figures/{wildcards.experiment} 2> {log}"
