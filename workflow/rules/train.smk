rule train:
    """Fit one method on one dataset replicate with one seed (CUDA when present, CPU otherwise)."""
    input:
        data=lambda w: f"{dataset_dir(w.dataset, w.seed)}/manifest.json",
        code=code("train.py", "methods/*.py", "models/*.py"),
    output:
        model="results/{experiment}/{dataset}/{method}/seed{seed}/model.pt",
    params:
        config=lambda w: config_slice(training=config["training"], methods={w.method: config["methods"][w.method]}),
        data=lambda w: dataset_dir(w.dataset, w.seed),
    threads: 1
    log:
        "logs/train/{experiment}/{dataset}/{method}/seed{seed}.log",
    shell:
        "mmcrl train --config {params.config:q} --experiment {wildcards.experiment} --dataset {wildcards.dataset}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {params.data} --out {output.model} 2> {log}"
