"""The study configuration: one YAML tree validated against ``config.schema.yaml``, defaults filled in.

A wrong key, type or value raises :class:`ConfigError` whose message is one sentence naming the key, before any
work starts. Beyond the schema, the datasets are checked for a valid generative model (every latent seen, d_m > |S_m|)
and experiments for references to defined datasets and methods.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mmcrl.data.kinds import DatasetSpec, spec_from_config


class ConfigError(ValueError):
    """A configuration problem, described in one line that names the offending key."""


def schema() -> dict[str, Any]:
    """The JSON schema of the configuration (shipped inside the package)."""
    return yaml.safe_load(resources.files("mmcrl").joinpath("config.schema.yaml").read_text())


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read one or more YAML config files, layered as Snakemake's ``--configfile A B`` layers them (each later file
    overrides the earlier ones key by key, mappings merged recursively), and return the result validated, with
    defaults filled in."""
    raw: dict[str, Any] = {}
    for path in paths:
        try:
            layer = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError as error:
            raise ConfigError(f"{path}: config file not found") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from error
        raw = layered(raw, layer)
    return validate_config(raw)


def layered(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``: a key whose values are mappings in both is merged recursively, any other key
    of ``override`` replaces base's (Snakemake's rule for several config files)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = layered(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A validated deep copy of ``raw`` with every schema default filled in; raises :class:`ConfigError`."""
    config = copy.deepcopy(raw)
    validator = _DefaultFillingValidator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))
    _check_references(config)
    _check_datasets(config)
    _check_experiment_training(config)
    return config


def experiment_training(config: dict[str, Any], experiment: str) -> dict[str, Any]:
    """The training settings of an experiment's runs: the ``training`` section with the experiment's own
    ``training`` overrides applied (an experiment not in the config gets the section as it is)."""
    return config["training"] | config["experiments"].get(experiment, {}).get("training", {})


def coerce_command_line_strings(value: Any) -> Any:
    """Turn strings that read as numbers or booleans back into them, recursively.

    ``snakemake --config training='{lr: 0.01}'`` delivers nested values as strings ('0.01'); no string-valued key of
    the schema admits a value that looks like a number or boolean, so the conversion is safe.
    """
    if isinstance(value, dict):
        return {key: coerce_command_line_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [coerce_command_line_strings(item) for item in value]
    if isinstance(value, str):
        parsed = yaml.safe_load(value) if value.strip() else value
        return parsed if isinstance(parsed, int | float | bool) else value
    return value


def dataset_spec(name: str, **fields: Any) -> DatasetSpec:
    """A dataset spec from the given ``datasets.<name>`` fields, validated and completed with the schema's
    defaults, e.g. ``dataset_spec("mine", n_latents=4, pattern=[[0, 1, 2], [0, 3]])`` (synthetic) or
    ``dataset_spec("pics", kind="shapes-text", n_train=1000)``."""
    return spec_from_config(name, validate_config({"datasets": {name: fields}})["datasets"][name])


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"config key {key}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}"
    if error.validator == "oneOf":
        forms = error.schema.get("description", "").strip()
        return f"config key {key}: {error.instance!r} matches none of the allowed forms ({forms})"
    return f"config key {key}: {error.message}"


def _check_references(config: dict[str, Any]) -> None:
    for experiment, grid in config["experiments"].items():
        for kind in ("datasets", "methods"):
            for name in grid[kind]:
                if name not in config[kind]:
                    defined = ", ".join(sorted(config[kind])) or "none"
                    raise ConfigError(
                        f"config key experiments.{experiment}.{kind}: {name!r} is not defined under {kind} "
                        f"(defined: {defined})"
                    )


def _check_experiment_training(config: dict[str, Any]) -> None:
    training_schema = schema()["properties"]["training"]
    for experiment, grid in config["experiments"].items():
        key = f"experiments.{experiment}.training"
        unknown = sorted(set(grid["training"]) - set(training_schema["properties"]))
        if unknown:
            allowed = ", ".join(sorted(training_schema["properties"]))
            raise ConfigError(f"config key {key}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {allowed}")
        merged = experiment_training(config, experiment)
        error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(training_schema).iter_errors(merged))
        if error is not None:
            raise ConfigError(f"config key {key}.{'.'.join(map(str, error.absolute_path))}: {error.message}")


def _check_datasets(config: dict[str, Any]) -> None:
    for name, entry in config["datasets"].items():
        try:
            spec_from_config(name, entry).check()
        except ValueError as error:
            raise ConfigError(f"config key datasets.{name}: {error}") from error


def _fill_defaults(validator, properties, instance, schema_):  # noqa: ANN001 (jsonschema validator hook)
    if isinstance(instance, dict):
        for key, subschema in properties.items():
            if "default" in subschema and key not in instance:
                instance[key] = copy.deepcopy(subschema["default"])
    yield from jsonschema.Draft7Validator.VALIDATORS["properties"](validator, properties, instance, schema_)


_DefaultFillingValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"properties": _fill_defaults})
