rule recover:
    """Recover the sharing pattern Â and the global latent index from held-out (validation) encodings."""
    input:
        model="results/{experiment}/{dataset}/{method}/seed{seed}/model.pt",
        data=lambda w: f"{dataset_dir(w.dataset, w.seed)}/manifest.json",
        code=code("recover.py", "models/wasserstein.py", "metrics.py"),
    output:
        structure="results/{experiment}/{dataset}/{method}/seed{seed}/structure.json",
    params:
        config=config_slice(recover=config["recover"]),
        data=lambda w: dataset_dir(w.dataset, w.seed),
    log:
        "logs/recover/{experiment}/{dataset}/{method}/seed{seed}.log",
    shell:
        "mmcrl recover --config {params.config:q} --model {input.model} --data {params.data}"
        " --out {output.structure} 2> {log}"
