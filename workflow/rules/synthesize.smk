rule synthesize:
    """Draw one replicate of a synthetic dataset: DAG, mechanisms, noise, mixing maps, splits, ground truth."""
    input:
        code("data/*.py") + code("io.py"),
    output:
        splits=[f"data/{{dataset}}/seed{{seed}}/{split}.npz" for split in ("train", "val", "test")],
        ground_truth="data/{dataset}/seed{seed}/ground_truth.json",
        manifest="data/{dataset}/seed{seed}/manifest.json",
    params:
        config=lambda w: config_slice(datasets={w.dataset: config["datasets"][w.dataset]}),
        out=lambda w: dataset_dir(w.dataset, w.seed),
    log:
        "logs/synthesize/{dataset}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/synthesize/{dataset}/seed{seed}.tsv"
    shell:
        "mmcrl synthesize --config {params.config:q} --dataset {wildcards.dataset} --seed {wildcards.seed}"
        " --out {params.out} 2> {log}"
