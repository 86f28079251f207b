"""Run configurations: TOML (read with the standard library's tomllib) or JSON, validated against known keys.

A configuration has three tables::

    [data]                      # toy set names (neurot.data.TOY_SETS) or files of points [N, D]:
    source = "gaussian"         # .npy, .npz, .csv / .txt (header row optional) or .h5ad (neurot.data.read_points)
    target = "swiss_roll"
    n_samples = 20000           # points drawn from a toy set
    seed = 0
    key = "X_pca"               # optional: the array of an .npz file, the obsm entry of an .h5ad file (default X)

    [solver]                    # required: "name" picks the solver; every other key is one of its options
    name = "egnot"
    eps = 0.1                   # required by the entropic solvers, as in the API

    [fit]                       # every key optional
    steps = 2000                # default: the solver's own (e.g. EgNOT 10000)
    seed = 0
    device = "cpu"              # "cuda", or "auto": cuda when available
    log_every = 10              # metrics.jsonl gets one line per log_every steps
    checkpoint_every = 200      # steps between checkpoints in RUN_DIR/checkpoints (and one at the end)
    tensorboard = false         # also log to RUN_DIR/tensorboard (pip install 'neurot[tb]')
    holdout = 0.1               # share of a file's points kept out of training for the end-of-run check
    stop = "auto"               # default; "off": run every step (auto: EgNOT's MLP ends once its plan has settled)

Instead of ``source`` and ``target``, a time course (neurot.data.read_time_course) and the two times to connect::

    [data]
    time_course = "cells.h5ad"  # an .h5ad, .npz or .csv file, or a folder of one .npy / .csv file per time
    time_key = "day"            # .h5ad: the obs column of the times ("day2", "D4", 4.5); .csv: the time column
    key = "X_pca"
    source_time = 2
    target_time = 4

Relative paths in ``[data]`` are relative to the config file; :func:`read_config` makes them absolute. Options
a file leaves out take :data:`FILE_DEFAULTS` or the solver's defaults; without a file, ``neurot fit`` runs
:data:`DEFAULT_CONFIG`, the built-in example.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from neurot._validation import check_bool, check_choice, check_int, check_keys, check_probability
from neurot.data import TOY_SETS

#: Values of ``[fit] stop``: ``fit(stop="auto")`` or ``fit(stop=None)``.
STOP_CHOICES = ("auto", "off")

FILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"n_samples": 20_000, "seed": 0},
    "solver": {},
    "fit": {"seed": 0, "device": "cpu", "log_every": 10, "checkpoint_every": 200},
}
"""What a config file need not say; ``[solver]`` options it leaves out are the solver's defaults."""
DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "data": {**FILE_DEFAULTS["data"], "source": "gaussian", "target": "swiss_roll"},
    "solver": {"name": "egnot", "eps": 0.1},
    "fit": {**FILE_DEFAULTS["fit"], "steps": 2000},
}
"""The built-in example that ``neurot fit`` runs without a config: 2-D Gaussian to Swiss roll, a 2000-step EgNOT."""

PATH_KEYS = ("source", "target", "time_course")
"""``[data]`` keys that may hold a file path (``source`` and ``target`` may also name a toy set)."""
TIME_COURSE_KEYS = ("time_key", "source_time", "target_time")

SECTION_KEYS = {
    "data": {"source", "target", "n_samples", "seed", "key", "time_course", "time_key", "source_time", "target_time"},
    "fit": {"steps", "seed", "device", "log_every", "checkpoint_every", "tensorboard", "holdout", "stop"},
}


def read_config(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Read a TOML or JSON config and merge it over :data:`FILE_DEFAULTS` (None: :data:`DEFAULT_CONFIG`).

    Unknown tables or keys, a missing ``[solver] name`` and a ``[data]`` table without ``source`` and ``target``
    (or ``time_course``) raise ``ValueError``; solver options are checked by the solver itself. Relative paths in
    ``[data]`` become absolute paths, taken relative to the config file's directory.
    """
    if path is None:
        return copy.deepcopy(DEFAULT_CONFIG)
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
    config = merge_config(copy.deepcopy(FILE_DEFAULTS), given, source=str(path))
    _check_complete(config, str(path))
    _resolve_paths(config["data"], path.parent)
    return config


def _check_complete(config: dict[str, dict[str, Any]], source: str) -> None:
    """Check that a config names its solver and its data."""
    if "name" not in config["solver"]:
        raise ValueError(f"{source} needs a [solver] table with the solver's name, e.g. name = \"egnot\" and eps")
    if "time_course" not in config["data"]:
        missing = [key for key in ("source", "target") if key not in config["data"]]
        if missing:
            raise ValueError(f"[data] in {source} needs {' and '.join(missing)} (toy set names or files of "
                             "points), or a time_course")


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file paths of a ``[data]`` table absolute, relative to ``base`` (toy set names stay)."""
    for key in PATH_KEYS:
        if key in data and data[key] not in TOY_SETS:
            data[key] = str(base.absolute() / data[key])


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
        if table == "data":
            _merge_time_course(config["data"], values, source)
    return config


def _merge_time_course(data: dict[str, Any], given: dict[str, Any], source: str) -> None:
    """Check that ``data`` has source and target or time_course with the times, and drop the defaults it replaces."""
    if "time_course" not in data:
        orphans = [key for key in TIME_COURSE_KEYS if key in data]
        if orphans:
            raise ValueError(f"[data] {', '.join(orphans)} in {source} need [data] time_course")
        return
    both = [key for key in ("source", "target") if key in given]
    if both:
        raise ValueError(f"[data] in {source}: give either time_course or {' and '.join(both)}, not both")
    missing = [key for key in ("source_time", "target_time") if key not in data]
    if missing:
        raise ValueError(f"[data] time_course in {source} needs {' and '.join(missing)} (the times to connect)")
    data.pop("source", None)
    data.pop("target", None)


def _any(name: str, value: Any) -> None:
    """Keys without a type check (checked where they are used)."""


def _check_holdout(name: str, value: Any) -> None:
    check_probability(name, value)
    if value > 0.5:
        raise ValueError(f"{name} must be at most 0.5 (a share of the points kept out of training), got {value!r}")


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


VALUE_CHECKS: dict[tuple[str, str], Callable[[str, Any], None]] = {
    ("data", "source"): _check_str,
    ("data", "target"): _check_str,
    ("data", "n_samples"): check_int,
    ("data", "seed"): partial(check_int, minimum=0),
    ("data", "key"): _check_str,
    ("data", "time_course"): _check_str,
    ("data", "time_key"): _check_str,
    ("data", "source_time"): _check_number,
    ("data", "target_time"): _check_number,
    ("fit", "steps"): check_int,
    ("fit", "seed"): partial(check_int, minimum=0),
    ("fit", "device"): _check_str,
    ("fit", "log_every"): check_int,
    ("fit", "checkpoint_every"): check_int,
    ("fit", "tensorboard"): check_bool,
    ("fit", "holdout"): _check_holdout,
    ("fit", "stop"): partial(check_choice, choices=STOP_CHOICES),
}
