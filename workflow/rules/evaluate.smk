rule evaluate:
    """Score every seed of one method on one dataset on the test split: MCC, R², structure recovery, SHD, downstream
    probe (one process: the stage's imports cost more than its work)."""
    input:
        encodings=lambda w: seed_files(w, "encodings.npz"),
        structures="results/{experiment}/{dataset}/{method}/structures.json",
        data=lambda w: [f"{dataset_dir(w.dataset, s)}/manifest.json" for s in seeds(w.experiment)],
        code=code("evaluate.py", "encodings.py", "metrics.py", "downstream.py"),
    output:
        metrics="results/{experiment}/{dataset}/{method}/metrics.json",
    params:
        config=config_slice(evaluation=config["evaluation"]),
        seeds=lambda w: " ".join(map(str, seeds(w.experiment))),
        data=lambda w: [dataset_dir(w.dataset, s) for s in seeds(w.experiment)],
    log:
        "logs/evaluate/{experiment}/{dataset}/{method}.log",
    shell:
        "mmcrl evaluate --config {params.config:q} --experiment {wildcards.experiment} --dataset {wildcards.dataset}"
        " --method {wildcards.method} --seed {params.seeds} --encodings {input.encodings} --data {params.data}"
        " --structures {input.structures} --out {output.metrics} 2> {log}"
