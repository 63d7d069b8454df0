rule evaluate:
    """Score one trained model on the test split: MCC, R², structure recovery, SHD."""
    input:
        encodings="results/{experiment}/{dataset}/{method}/seed{seed}/encodings.npz",
        structure="results/{experiment}/{dataset}/{method}/seed{seed}/structure.json",
        data=lambda w: f"{dataset_dir(w.dataset, w.seed)}/manifest.json",
        code=code("evaluate.py", "encodings.py", "metrics.py", "downstream.py"),
    output:
        metrics="results/{experiment}/{dataset}/{method}/seed{seed}/metrics.json",
    params:
        config=config_slice(evaluation=config["evaluation"]),
        data=lambda w: dataset_dir(w.dataset, w.seed),
    log:
        "logs/evaluate/{experiment}/{dataset}/{method}/seed{seed}.log",
    shell:
        "mmcrl evaluate --config {params.config:q} --experiment {wildcards.experiment} --dataset {wildcards.dataset}"
        " --method {wildcards.method} --seed {wildcards.seed} --encodings {input.encodings} --structure {input.structure}"
        " --data {params.data} --out {output.metrics} 2> {log}"
