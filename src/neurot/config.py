"""Run configurations: TOML (read with the standard library's tomllib) or JSON, validated against known keys.

A configuration has three tables::

    [data]                      # toy set names (neurot.data.TOY_SETS) or paths to .npy / .csv files [N, D]
    source = "gaussian"
    target = "swiss_roll"
    n_samples = 20000           # points drawn from a toy set
    seed = 0

    [solver]                    # "name" picks the solver; every other key is one of its options
    name = "egnot"
    eps = 0.1

    [fit]
    steps = 2000                # optional: overrides the solver's default
    seed = 0
    device = "cpu"
    log_every = 10              # metrics.jsonl gets one line per log_every steps
    checkpoint_every = 200      # steps between checkpoints in RUN_DIR/checkpoints (and one at the end)
    tensorboard = false         # also log to RUN_DIR/tensorboard (pip install 'neurot[tb]')
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from neurot._validation import check_bool, check_int, check_keys

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "data": {"source": "gaussian", "target": "swiss_roll", "n_samples": 20_000, "seed": 0},
    "solver": {"name": "egnot", "eps": 0.1},
    "fit": {"steps": 2000, "seed": 0, "device": "cpu", "log_every": 10, "checkpoint_every": 200},
}

SECTION_KEYS = {
    "data": {"source", "target", "n_samples", "seed"},
    "fit": {"steps", "seed", "device", "log_every", "checkpoint_every", "tensorboard"},
}


def read_config(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Read a TOML or JSON config and merge it over :data:`DEFAULT_CONFIG` (None: the default example).

    Unknown tables or keys raise ``ValueError``; solver options are checked by the solver itself.
    """
    config = copy.deepcopy(DEFAULT_CONFIG)
    if path is None:
        return config
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise FileNotFoundError(f"config file {path} does not exist") from error
    except (UnicodeDecodeError, IsADirectoryError) as error:
        raise ValueError(f"config file {path} is not a UTF-8 text file") from error
    try:
        given = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ValueError(f"config file {path} is not valid {kind}: {error}") from error
    return merge_config(config, given, source=str(path))


def merge_config(config: dict[str, dict[str, Any]], given: Any, source: str = "config") -> dict:
    """Overlay ``given`` on ``config`` table by table, rejecting unknown tables and keys and ill-typed values."""
    if not isinstance(given, dict):
        raise TypeError(f"{source} must be a table of tables ([data], [solver], [fit]), got {type(given).__name__}")
    check_keys(f"tables in {source}", given, config)
    for table, values in given.items():
        if not isinstance(values, dict):
            raise ValueError(f"[{table}] in {source} must be a table of key = value pairs")
        if table in SECTION_KEYS:
            check_keys(f"keys in [{table}] of {source}", values, SECTION_KEYS[table])
            for key, value in values.items():
                VALUE_CHECKS.get((table, key), _any)(f"[{table}] {key} in {source}", value)
        if table == "solver" and "name" in values and values["name"] != config["solver"].get("name"):
            config["solver"] = {}
        config[table].update(values)
    return config


def _any(name: str, value: Any) -> None:
    """Keys without a type check (checked where they are used)."""


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")


VALUE_CHECKS: dict[tuple[str, str], Callable[[str, Any], None]] = {
    ("data", "source"): _check_str,
    ("data", "target"): _check_str,
    ("data", "n_samples"): check_int,
    ("data", "seed"): partial(check_int, minimum=0),
    ("fit", "steps"): check_int,
    ("fit", "seed"): partial(check_int, minimum=0),
    ("fit", "device"): _check_str,
    ("fit", "log_every"): check_int,
    ("fit", "checkpoint_every"): check_int,
    ("fit", "tensorboard"): check_bool,
}
