FIGURE_CAPTIONS = {
    "mcc": ("Identifiability", "mean matched correlation per method and dataset"),
    "latents": ("Per-latent recovery", "matched correlation per latent"),
    "patterns": ("Structure recovery", "true vs recovered sharing pattern"),
    "comparison": ("Comparison figure", "every method on every dataset"),
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
    benchmark:
        "logs/benchmarks/figures/{experiment}.tsv"
    shell:
        "mmcrl figures --config {params.config:q} --experiment {wildcards.experiment} --tables reports/tables"
        " --runs {input.metrics} --out-dir reports/figures/{wildcards.experiment} 2> {log}"


rule factor_figure:
    """Draw one experiment's per-factor score heat-map: kernel R² (continuous factors), accuracy (discrete)."""
    input:
        tables=["reports/tables/runs.csv", "reports/tables/factors.csv"],
        code=code("figures.py"),
    output:
        [
            (
                report(
                    f"reports/figures/{{experiment}}/factors.{fmt}",
                    caption="../report/factors.rst",
                    category="{experiment}",
                    subcategory="Per-factor scores",
                    labels={"figure": "kernel R² / accuracy per factor"},
                )
                if fmt == "png"
                else f"reports/figures/{{experiment}}/factors.{fmt}"
            )
            for fmt in config["figures"]["formats"]
        ],
    params:
        config=config_slice(figures=config["figures"]),
    log:
        "logs/figures/{experiment}-factors.log",
    benchmark:
        "logs/benchmarks/factor_figure/{experiment}.tsv"
    shell:
        "mmcrl factor-figure --config {params.config:q} --experiment {wildcards.experiment} --tables reports/tables"
        " --out-dir reports/figures/{wildcards.experiment} 2> {log}"


rule sample_grid:
    """Draw test images of a shapes-text dataset with their captions."""
    input:
        data=lambda w: f"{dataset_dir(w.dataset, sample_grid_seed(w.dataset))}/manifest.json",
        code=code("figures.py"),
    output:
        [
            (
                report(
                    f"reports/figures/datasets/{{dataset}}/samples.{fmt}",
                    caption="../report/samples.rst",
                    category="Datasets",
                    labels={"figure": "{dataset}: sample images and captions"},
                )
                if fmt == "png"
                else f"reports/figures/datasets/{{dataset}}/samples.{fmt}"
            )
            for fmt in config["figures"]["formats"]
        ],
    params:
        config=config_slice(figures=config["figures"]),
        data=lambda w: dataset_dir(w.dataset, sample_grid_seed(w.dataset)),
    log:
        "logs/figures/samples-{dataset}.log",
    benchmark:
        "logs/benchmarks/sample_grid/{dataset}.tsv"
    shell:
        "mmcrl sample-grid --config {params.config:q} --data {params.data}"
        " --out-dir reports/figures/datasets/{wildcards.dataset} 2> {log}"
