rule recover:
    """Recover the sharing pattern Â and the global latent index from held-out (validation) encodings, for every run
    (method × seed) of one dataset in an experiment: one process, as the stage's imports cost more than its work."""
    input:
        encodings=lambda w: grid_files(w, "encodings.npz"),
        code=code("recover.py", "encodings.py", "matching.py"),
    output:
        structures="results/{experiment}/{dataset}/structures.json",
    params:
        config=config_slice(recover=config["recover"]),
        grid=lambda w: grid_arguments(w.experiment),
        encodings=lambda w: run_dir(w.experiment, w.dataset, "{method}", "{seed}") + "/encodings.npz",
    log:
        "logs/recover/{experiment}/{dataset}.log",
    benchmark:
        "logs/benchmarks/recover/{experiment}/{dataset}.tsv"
    shell:
        "mmcrl recover --config {params.config:q} {params.grid} --encodings {params.encodings:q}"
        " --out {output.structures} 2> {log}"
