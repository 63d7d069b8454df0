"""Config validation: defaults filled in, one-line errors naming the key."""

import pytest

from mmcrl.config import ConfigError, experiment_training, validate_config

MINIMAL = {
    "experiments": {"e": {"datasets": ["d"], "methods": ["m"], "seeds": [0]}},
    "datasets": {"d": {"n_latents": 3, "pattern": [[0, 1], [0, 2]]}},
    "methods": {"m": {"method": "mcl"}},
}


def test_defaults_are_filled_in_without_touching_the_input():
    config = validate_config(MINIMAL)
    assert config["training"]["steps"] == 1000
    assert config["datasets"]["d"]["dag"] == {"edge_probability": 0.4, "causal_strength": 0.5}
    assert config["datasets"]["d"]["mixing"]["layers"] == 3
    assert config["methods"]["m"]["params"] == {}
    assert "training" not in MINIMAL


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"no_such_key": 1}, "config key (top level): unknown key(s) 'no_such_key'"),
        ({"training": {"lr": -1}}, "config key training.lr: -1 is less than or equal to the minimum of 0"),
        ({"training": {"steps": "many"}}, "config key training.steps: 'many' is not of type 'integer'"),
        ({"methods": {"m": {"method": "nope"}}}, "config key methods.m.method: 'nope' is not one of"),
        ({"datasets": {"d": {"n_latents": 4, "pattern": [[0, 1], [0, 2]]}}}, "datasets.d: latent(s) [3] are seen"),
        (
            {"datasets": {"d": {"n_latents": 3, "pattern": [[0, 1], [0, 2]], "mixing": {"observed_dims": [2, 3]}}}},
            "datasets.d: modality 0: observed dimension 2 must exceed its 2 latents",
        ),
        ({"experiments": {"e": {"datasets": ["x"], "methods": ["m"], "seeds": [0]}}}, "'x' is not defined"),
    ],
)
def test_bad_configs_are_refused_in_one_line_naming_the_key(change, message):
    with pytest.raises(ConfigError) as error:
        validate_config(MINIMAL | change)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_random_pattern_gets_its_defaults():
    config = validate_config(
        MINIMAL | {"datasets": {"d": {"n_latents": 8, "pattern": {"n_modalities": 5, "n_shared": 5}}}}
    )
    assert config["datasets"]["d"]["pattern"] == {
        "n_modalities": 5,
        "n_shared": 5,
        "unique_signatures": True,
        "seed": 0,
    }


def test_an_experiment_overrides_training_settings_and_bad_overrides_are_named():
    base = {"datasets": {"d": {"n_latents": 2, "pattern": [[0, 1], [0]]}}, "methods": {"m": {"method": "mcl"}}}
    grid = {"datasets": ["d"], "methods": ["m"], "seeds": [0]}
    config = validate_config(base | {"experiments": {"small": grid | {"training": {"steps": 7}}, "full": grid}})
    assert experiment_training(config, "small")["steps"] == 7
    assert experiment_training(config, "full")["steps"] == config["training"]["steps"] == 1000
    assert experiment_training(config, "small")["lr"] == config["training"]["lr"]
    with pytest.raises(ConfigError, match=r"experiments\.small\.training: unknown key\(s\) 'step'"):
        validate_config(base | {"experiments": {"small": grid | {"training": {"step": 7}}}})
    with pytest.raises(ConfigError, match=r"experiments\.small\.training\.steps: 0 is less than the minimum"):
        validate_config(base | {"experiments": {"small": grid | {"training": {"steps": 0}}}})


def test_the_full_study_config_merges_over_the_default_and_validates():
    """``snakemake --configfile config/paper.yaml`` merges paper.yaml into config.yaml key by key (recursively)."""
    import copy
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    root = Path(__file__).resolve().parents[1]
    default = yaml.safe_load((root / "config" / "config.yaml").read_text())
    merged = copy.deepcopy(default)
    update_config(merged, yaml.safe_load((root / "config" / "paper.yaml").read_text()))
    config = validate_config(merged)
    assert set(config["experiments"]) == set(default["experiments"])  # the same names: nothing of the default left
    assert config["training"]["steps"] >= 10 * validate_config(default)["training"]["steps"]
    assert "rand5" in config["experiments"]["comparison"]["datasets"]
    # every wcrl variant refits after the freeze at this budget and reconstructs from then on, its own options kept
    # (merged, not replaced)
    variants = {name: entry["params"] for name, entry in config["methods"].items() if entry["method"] == "wcrl"}
    assert variants.keys() == {name for name, entry in default["methods"].items() if entry["method"] == "wcrl"}
    assert all(params.get("refit_at_freeze") for params in variants.values()), variants
    assert all(params.get("frozen_reconstruction_weight", 0) > 0 for params in variants.values()), variants
    assert variants["wcrl-nodustbin"]["dustbin"] is False


def test_layered_config_files_merge_as_snakemake_merges_them():
    """``load_config(A, B, C)`` = ``snakemake --configfile A B C``: the same merged tree as Snakemake's own rule, so
    the benchmarks read config/paper-wcrl.yaml on top of paper.yaml as the workflow does."""
    import copy
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    from mmcrl.config import layered, load_config

    root = Path(__file__).resolve().parents[1]
    files = [root / "config" / name for name in ("config.yaml", "paper.yaml", "paper-wcrl.yaml")]
    layers = [yaml.safe_load(path.read_text()) for path in files]
    expected = copy.deepcopy(layers[0])
    merged: dict = {}
    for layer in layers:
        merged = layered(merged, layer)
    for layer in layers[1:]:
        update_config(expected, layer)
    assert merged == expected
    config = load_config(*files)
    assert config["experiments"]["comparison"]["methods"] == ["wcrl"]
    assert config["experiments"]["comparison"]["seeds"] == [0]
    assert config["training"]["batch_size"] == 1024  # paper.yaml's, kept under the third layer
    assert layered({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}, "d": [4]}) == {"a": {"b": 3, "c": 2}, "d": [4]}
