rule recover:
    """Recover the sharing pattern Â and the global latent index from held-out (validation) encodings."""
    input:
        encodings="results/{experiment}/{dataset}/{method}/seed{seed}/encodings.npz",
        code=code("recover.py", "encodings.py", "models/wasserstein.py", "metrics.py"),
    output:
        structure="results/{experiment}/{dataset}/{method}/seed{seed}/structure.json",
    params:
        config=config_slice(recover=config["recover"]),
    log:
        "logs/recover/{experiment}/{dataset}/{method}/seed{seed}.log",
    shell:
        "mmcrl recover --config {params.config:q} --encodings {input.encodings} --out {output.structure} 2> {log}"
