"""Run directories: train from a config and leave the config, weights, metrics and a figure behind.

Layout of ``RUN_DIR``: ``config.json`` (the resolved run configuration), ``model/`` (the solver's ``save``),
``metrics.jsonl`` (one JSON object per logged step, with ``step``) and ``figure.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurot.data import TOY_SETS, toy_sampler
from neurot.io import read_json, write_json
from neurot.solvers import SOLVERS, Solver

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"
MODEL_DIR = "model"
METRICS_FILE = "metrics.jsonl"
FIGURE_FILE = "figure.png"


def load_points(spec: str, n_samples: int, seed: int, name: str) -> np.ndarray:
    """Points ``[N, D]`` from a toy set name or a ``.npy`` / ``.csv`` / ``.txt`` file (never unpickled)."""
    if spec in TOY_SETS:
        return toy_sampler(spec, seed)(n_samples).numpy()
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"{name} = {spec!r} is neither a toy data set {sorted(TOY_SETS)} nor an existing file")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix in (".csv", ".txt"):
        return np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=2)
    raise ValueError(f"{name} file {path} must be .npy, .csv or .txt")


def make_solver(options: dict[str, Any]) -> Solver:
    """Build the solver named in ``options["name"]`` with the remaining options."""
    options = dict(options)
    name = options.pop("name", "egnot")
    if name not in SOLVERS:
        raise ValueError(f"solver name must be one of {sorted(SOLVERS)}, got {name!r}")
    return SOLVERS[name](**options)


class MetricsWriter:
    """Callback appending every ``log_every``-th step's metrics to ``metrics.jsonl``."""

    def __init__(self, path: Path, log_every: int) -> None:
        self.path, self.log_every = path, max(1, int(log_every))
        self.path.write_text("")

    def __call__(self, solver: Solver, step: int, metrics: dict[str, float]) -> None:
        """Append ``metrics`` as one JSON line when ``step`` is due."""
        if step % self.log_every == 0 or step == 1:
            with self.path.open("a") as handle:
                handle.write(json.dumps(metrics) + "\n")


def fit_run(config: dict[str, dict[str, Any]], out: str | Path, progress: bool | None = None) -> Solver:
    """Train as ``config`` says and fill the run directory ``out``; returns the fitted solver."""
    out = Path(out)
    data, fit = config["data"], config["fit"]
    solver = make_solver(config["solver"])
    source = load_points(data["source"], data["n_samples"], data["seed"], "source")
    target = load_points(data["target"], data["n_samples"], data["seed"] + 1, "target")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_CONFIG, config)
    writer = MetricsWriter(out / METRICS_FILE, fit.get("log_every", 10))
    solver.fit(source, target, steps=fit.get("steps"), seed=fit.get("seed"), device=fit.get("device"),
               callbacks=[writer], progress=progress)
    solver.save(out / MODEL_DIR)
    try:
        from neurot.plotting import plot_run
    except ImportError:
        logger.warning("matplotlib is not installed: no figure (pip install 'neurot[plot]')")
    else:
        plot_run(solver, source, target, out / FIGURE_FILE, seed=fit.get("seed") or 0)
    return solver


def load_run(run_dir: str | Path, device: str | None = None) -> Solver:
    """The fitted solver of a run directory."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / RUN_CONFIG)
    solver_class = SOLVERS[config["solver"]["name"]]
    return solver_class.load(run_dir / MODEL_DIR, device=device)


def sample_run(run_dir: str | Path, x: np.ndarray, n_per_x: int | None = None, seed: int | None = None) -> np.ndarray:
    """Draws from the run's plan for source points ``x [M, D]``."""
    solver = load_run(run_dir)
    return solver.sample(torch.as_tensor(x), n_per_x=n_per_x, seed=seed).cpu().numpy()
