import ctypes


def training_uses_cuda():
    """Whether a train job started here would run on CUDA: training.device is not cpu and torch sees a GPU.

    torch, slow to import, is asked only when the NVIDIA driver library (libcuda) loads at all.
    """
    if config["training"]["device"] == "cpu":
        return False
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    import torch

    return torch.cuda.is_available()


TRAIN_GPUS = int(training_uses_cuda())


rule train:
    """Fit one method on one dataset replicate with one seed (CUDA when present, CPU otherwise); save the model and
    its encodings of the held-out splits."""
    input:
        data=lambda w: f"{dataset_dir(w.dataset, w.seed)}/manifest.json",
        code=code("train.py", "methods/*.py", "models/*.py"),
    output:
        model="results/{experiment}/{dataset}/{method}/seed{seed}/model.pt",
        encodings="results/{experiment}/{dataset}/{method}/seed{seed}/encodings.npz",
    params:
        config=lambda w: config_slice(
            training=experiment_training(config, w.experiment), methods={w.method: config["methods"][w.method]}
        ),
        data=lambda w: dataset_dir(w.dataset, w.seed),
    threads: 1
    resources:
        gpu=TRAIN_GPUS,  # the default profile provides gpu=1: CUDA jobs run one at a time, never two on one card
    log:
        "logs/train/{experiment}/{dataset}/{method}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/train/{experiment}/{dataset}/{method}/seed{seed}.tsv"
    shell:
        "mmcrl train --config {params.config:q} --experiment {wildcards.experiment} --dataset {wildcards.dataset}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {params.data} --out {output.model}"
        " --encodings {output.encodings} 2> {log}"
