"""Tests of mmcrl.figures on small fake runs: every figure is written, valid, stable and robust to empty metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmcrl.aggregate import collect
from mmcrl.figures import align_columns, write_figures
from mmcrl.io import write_json
from mmcrl.metrics import identifiability_classes

CONFIG = {"formats": ["png", "pdf"], "dpi": 80, "context": "paper"}
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}
# pair2 has private latents; chain3 has none (a block {0,1} and two identifiable latents); yao4 is the default
# study's 4-modality pattern.
PATTERNS = {
    "pair2": [[1, 1, 0], [1, 0, 1]],
    "chain3": [[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 1, 1]],
    "yao4": [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 1, 1], [1, 1, 1, 1, 0, 1], [1, 1, 0, 1, 1, 1]],
}
# the default study's comparison grid (config/config.yaml)
METHODS = ["oracle", "wcrl", "mcl", "mvcrl", "ica-match", "mmvae", "mmvae-w"]


def _record(experiment: str, dataset: str, method: str, seed: int) -> dict:
    """A metrics.json record shaped like the output of ``mmcrl evaluate``."""
    true = np.array(PATTERNS[dataset])
    rng = np.random.default_rng([seed, len(method), len(dataset)])
    told = method == "oracle"
    # the learned method: true columns reversed, one wrong cell and an extra column; in "noprivate" nothing at all
    recovered = np.concatenate([true[:, ::-1], np.ones((true.shape[0], 1), int)], axis=1)
    recovered[0, 0] = 1 - recovered[0, 0]
    if told or experiment == "noprivate":
        recovered = true if told else recovered[:, :0]
    classes = identifiability_classes(true)
    scores = rng.uniform(0.97 if told else 0.4, 1.0, true.shape[1])
    latents = [
        {
            "latent": j,
            "class": latent_class,
            "signature": np.flatnonzero(true[:, j]).tolist(),
            "mcc_by_modality": {},
            "mcc": float(score),
            "mcc_spearman": float(score),
            "r2_linear": float(score) - 0.1,
            "r2_kernel": float(score) - (1.5 if j == 0 and not told else 0.0),
        }
        for j, (latent_class, score) in enumerate(zip(classes, scores, strict=True))
    ]

    def mean_of(latent_class: str) -> float | None:
        values = [r["mcc"] for r in latents if r["class"] == latent_class]
        return float(np.mean(values)) if values else None

    summary = {
        "mcc": float(scores.mean()),
        "mcc_spearman": float(scores.mean()),
        "r2_linear": 0.8,
        "r2_kernel": 0.7,
        "r2_shared": float(np.mean([r["r2_kernel"] for r in latents if len(r["signature"]) >= 2])),
        "structure_f1": 1.0 if told else 0.5,
        "structure_exact": told,
        "shd": 1,
        "shd_true_latents": 1,
        "train_seconds": 1.5,
        **{f"mcc_{c}": mean_of(c) for c in ("identifiable", "block", "private")},
    }
    return {
        "experiment": experiment,
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "told": "true pattern" if told else "nothing",
        "told_pattern": told,
        "summary": summary,
        "latents": latents,
        "patterns": {"true": true.tolist(), "recovered": recovered.tolist()},
    }


def _fake_study(
    root: Path, experiment: str, datasets: list[str], methods: tuple[str, ...] = ("mcl", "oracle"), seeds: int = 2
) -> tuple[Path, list[Path]]:
    """metrics.json files of ``methods`` × ``seeds`` seeds per dataset, plus runs.csv / latents.csv of another
    experiment too."""
    paths = []
    for name in (experiment, "other"):
        for dataset in datasets:
            for method in methods:
                for seed in reversed(range(seeds)):
                    path = root / "runs" / name / dataset / method / str(seed) / "metrics.json"
                    paths.append(write_json(path, [_record(name, dataset, method, seed)]))
    runs, latents = collect(paths)
    (root / "tables").mkdir()
    for name, table in (("runs", runs), ("latents", latents)):
        table.to_csv(root / "tables" / f"{name}.csv", index=False, float_format="%.6g", na_rep="")
    return root / "tables", [p for p in paths if p.parts[-5] == experiment]


def _assert_figures(written: list[Path], out_dir: Path, formats: list[str]) -> None:
    expected = [out_dir / f"{name}.{fmt}" for name in ("mcc", "latents", "patterns", "comparison") for fmt in formats]
    assert written == expected
    for path in expected:
        data = path.read_bytes()
        assert data.startswith(MAGIC[path.suffix[1:]]), path
        assert len(data) > 5_000, path
    assert sorted(out_dir.iterdir()) == sorted(expected), "temporary files left behind"


def test_writes_every_figure_and_is_byte_stable(tmp_path: Path) -> None:
    tables, paths = _fake_study(tmp_path, "main", ["pair2", "chain3"])
    first = write_figures("main", tables, paths, CONFIG, tmp_path / "a")
    _assert_figures(first, tmp_path / "a", CONFIG["formats"])
    second = write_figures("main", tables, paths, CONFIG, tmp_path / "b")
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name


def test_metric_empty_for_every_row_does_not_crash(tmp_path: Path) -> None:
    tables, paths = _fake_study(tmp_path, "noprivate", ["chain3"])
    config = CONFIG | {"formats": ["png"]}
    _assert_figures(write_figures("noprivate", tables, paths, config, tmp_path / "out"), tmp_path / "out", ["png"])


def test_figures_of_the_default_comparison_grid_stay_within_2400_pixels(tmp_path: Path) -> None:
    from PIL import Image

    tables, paths = _fake_study(tmp_path, "main", ["yao4", "chain3", "pair2"], tuple(METHODS), seeds=3)
    config = {"formats": ["png"], "dpi": 150, "context": "paper"}  # the schema's defaults
    sizes = {path.stem: Image.open(path).size for path in write_figures("main", tables, paths, config, tmp_path / "o")}
    assert sizes["comparison"][0] <= 2400 and sizes["comparison"][1] <= 2400, sizes
    assert all(sizes[name][0] <= 2400 for name in ("mcc", "latents", "patterns")), sizes


def test_unknown_experiment_is_an_error(tmp_path: Path) -> None:
    tables, paths = _fake_study(tmp_path, "main", ["pair2"])
    with pytest.raises(ValueError, match="no row of experiment 'missing'"):
        write_figures("missing", tables, paths, CONFIG, tmp_path / "out")
    with pytest.raises(ValueError, match="none of the 0 metrics files"):
        write_figures("main", tables, [], CONFIG, tmp_path / "out")


def test_align_columns_orders_recovered_like_true() -> None:
    true = np.array([[1, 1, 0], [1, 0, 1]])
    recovered = np.array([[0, 1, 1, 0], [1, 0, 1, 0]])  # columns 2, 1, 0 equal true columns 0, 1, 2; column 3 extra
    order, matched = align_columns(true, recovered)
    assert order == [2, 1, 0, 3]
    assert matched == [0, 1, 2, None]
    assert align_columns(true, np.zeros((2, 0), int)) == ([], [])


def test_factor_figure_and_sample_grid_are_written_and_byte_stable(tmp_path: Path) -> None:
    from mmcrl.aggregate import write_tables
    from mmcrl.config import dataset_spec
    from mmcrl.data.kinds import write_dataset
    from mmcrl.figures import write_factor_figure, write_sample_grid

    paths = []
    for dataset in ("pair2", "chain3"):
        for method in ("mcl", "oracle"):
            for seed in (0, 1):
                path = tmp_path / "runs" / dataset / method / str(seed) / "metrics.json"
                paths.append(write_json(path, [_record("main", dataset, method, seed)]))
    write_tables(paths, tmp_path / "tables", tmp_path / "metrics.json")
    written = [write_factor_figure("main", tmp_path / "tables", CONFIG, tmp_path / out) for out in ("a", "b")]
    assert [path.name for path in written[0]] == ["factors.png", "factors.pdf"]
    assert [p.read_bytes() for p in written[0]] == [p.read_bytes() for p in written[1]]
    write_dataset(dataset_spec("pics", kind="shapes-text", n_train=100, n_val=100, n_test=100), 0, tmp_path / "pics")
    grid = write_sample_grid(tmp_path / "pics", CONFIG, tmp_path / "grid")
    assert [path.name for path in grid] == ["samples.png", "samples.pdf"]
    assert grid[0].read_bytes().startswith(MAGIC["png"]) and grid[0].stat().st_size > 20_000
    synthetic = dataset_spec("syn", n_latents=3, pattern=[[0, 1], [0, 2]], n_train=100, n_val=100, n_test=100)
    write_dataset(synthetic, 0, tmp_path / "syn")
    with pytest.raises(ValueError, match="not a shapes-text dataset"):
        write_sample_grid(tmp_path / "syn", CONFIG, tmp_path / "grid")
