rule recover:
    """Recover the sharing pattern Â and the global latent index from held-out (validation) encodings, for every seed
    of one method on one dataset (one process: the stage's imports cost more than its work)."""
    input:
        encodings=lambda w: seed_files(w, "encodings.npz"),
        code=code("recover.py", "encodings.py", "matching.py"),
    output:
        structures="results/{experiment}/{dataset}/{method}/structures.json",
    params:
        config=config_slice(recover=config["recover"]),
        seeds=lambda w: " ".join(map(str, seeds(w.experiment))),
    log:
        "logs/recover/{experiment}/{dataset}/{method}.log",
    shell:
        "mmcrl recover --config {params.config:q} --seed {params.seeds} --encodings {input.encodings}"
        " --out {output.structures} 2> {log}"
