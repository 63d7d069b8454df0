rule evaluate:
    """Score every run (method × seed) of one dataset in an experiment on the test split: MCC, R², structure
    recovery, SHD, downstream probe. One process, as the stage's imports cost more than its work."""
    input:
        encodings=lambda w: grid_files(w, "encodings.npz"),
        structures="results/{experiment}/{dataset}/structures.json",
        data=lambda w: [f"{dataset_dir(w.dataset, s)}/manifest.json" for s in seeds(w.experiment)],
        code=code("evaluate.py", "encodings.py", "metrics.py", "downstream.py"),
    output:
        metrics="results/{experiment}/{dataset}/metrics.json",
    params:
        config=config_slice(evaluation=config["evaluation"]),
        grid=lambda w: grid_arguments(w.experiment),
        encodings=lambda w: run_dir(w.experiment, w.dataset, "{method}", "{seed}") + "/encodings.npz",
        data=lambda w: dataset_dir(w.dataset, "{seed}"),
    log:
        "logs/evaluate/{experiment}/{dataset}.log",
    benchmark:
        "logs/benchmarks/evaluate/{experiment}/{dataset}.tsv"
    shell:
        "mmcrl evaluate --config {params.config:q} --experiment {wildcards.experiment} --dataset {wildcards.dataset}"
        " {params.grid} --encodings {params.encodings:q} --data {params.data:q} --structures {input.structures}"
        " --out {output.metrics} 2> {log}"
