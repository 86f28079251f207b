"""Run directories: train from a config and leave the config, weights, metrics and a figure behind.

Layout of ``RUN_DIR``: ``config.json`` (the resolved run configuration), ``model/`` (the solver's ``save``),
``metrics.jsonl`` (one JSON object per logged step, with ``step``), ``figure.png``, ``checkpoints/`` (the newest two
training checkpoints, :mod:`neurot.checkpoint`) and, when asked for, ``tensorboard/``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurot import distributed
from neurot.data import TOY_SETS, read_points, read_time_course, read_time_course_dir, toy_sampler
from neurot.io import atomic_write_text, read_json, write_json
from neurot.solvers import SOLVERS, Solver

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"
MODEL_DIR = "model"
METRICS_FILE = "metrics.jsonl"
FIGURE_FILE = "figure.png"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"


def load_points(spec: str, n_samples: int, seed: int, name: str, key: str | None = None) -> np.ndarray:
    """Points ``[N, D]``: ``n_samples`` from a toy set, or a file that :func:`neurot.data.read_points` reads."""
    if spec in TOY_SETS:
        return toy_sampler(spec, seed)(n_samples).numpy()
    if not Path(spec).exists():
        raise ValueError(f"{name} = {spec!r} is neither a toy data set {sorted(TOY_SETS)} nor an existing file")
    return read_points(spec, key=key)


def load_time_course(spec: str, time_key: str | None = None, key: str | None = None) -> dict[float, np.ndarray]:
    """The point sets ``{time: [N_t, D]}`` of a time-course file or folder (:mod:`neurot.data.files`)."""
    path = Path(spec)
    if not path.is_dir():
        return read_time_course(path, time_key=time_key, key=key)
    if time_key is not None or key is not None:
        raise ValueError(f"time_course {path} is a folder of one file per time: time_key and key apply to one file")
    return read_time_course_dir(path)


def load_data(data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Source and target points ``[N, D]`` of a config's ``[data]`` table (:mod:`neurot.config`)."""
    if "time_course" not in data:
        key = data.get("key")
        return (load_points(data["source"], data["n_samples"], data["seed"], "source", key),
                load_points(data["target"], data["n_samples"], data["seed"] + 1, "target", key))
    course = load_time_course(data["time_course"], data.get("time_key"), data.get("key"))
    times = ", ".join(f"{time:g}" for time in course)
    points = []
    for name in ("source_time", "target_time"):
        if float(data[name]) not in course:
            raise ValueError(f"{name} = {data[name]} is not a time of {data['time_course']}; its times are {times}")
        points.append(course[float(data[name])])
    return points[0], points[1]


def make_solver(options: dict[str, Any]) -> Solver:
    """Build the solver named in ``options["name"]`` with the remaining options."""
    options = dict(options)
    name = options.pop("name", "egnot")
    if name not in SOLVERS:
        raise ValueError(f"solver name must be one of {sorted(SOLVERS)}, got {name!r}")
    return SOLVERS[name](**options)


class MetricsWriter:
    """Callback appending every ``log_every``-th step's metrics to ``metrics.jsonl`` (and TensorBoard if asked).

    The first call at step ``s`` drops the lines of steps ``>= s`` already in the file, so a resumed run continues
    the file of the killed one without gaps or duplicates (a fresh run starts at step 1: an empty file).
    ``tensorboard``: also write scalars to this directory (needs the ``tensorboard`` package).
    """

    def __init__(self, path: Path, log_every: int, tensorboard: Path | None = None) -> None:
        self.path, self.log_every, self.tensorboard_dir = path, max(1, int(log_every)), tensorboard
        self.board: Any = None
        self.started = False
        if tensorboard is not None:
            _summary_writer_class()

    def __call__(self, solver: Solver, step: int, metrics: dict[str, float]) -> None:
        """Append ``metrics`` as one JSON line when ``step`` is due."""
        if not self.started:
            self._start(step)
        if step % self.log_every == 0 or step == 1:
            with self.path.open("a") as handle:
                handle.write(json.dumps(metrics) + "\n")
            if self.board is not None:
                for key, value in metrics.items():
                    if key != "step":
                        self.board.add_scalar(key, value, step)

    def _start(self, step: int) -> None:
        kept = []
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _logged_step(line) < step]
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        if self.tensorboard_dir is not None:
            self.board = _summary_writer_class()(str(self.tensorboard_dir), purge_step=step)
        self.started = True

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self.board is not None:
            self.board.close()


def _logged_step(line: str) -> float:
    """The step of a metrics line; infinity for a line cut short by a crash (it is dropped)."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


def _summary_writer_class() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError("[fit] tensorboard = true needs the tensorboard package: pip install 'neurot[tb]'") from error
    return SummaryWriter


def fit_run(config: dict[str, dict[str, Any]], out: str | Path, progress: bool | None = None,
            resume: bool = False) -> Solver:
    """Train as ``config`` says and fill the run directory ``out``; returns the fitted solver.

    Checkpoints go to ``out/checkpoints`` every ``[fit] checkpoint_every`` steps; ``resume`` continues from the
    newest one. Under ``torchrun`` (``WORLD_SIZE > 1``) the processes train together and rank 0 writes the outputs.
    """
    out = Path(out)
    fit = config["fit"]
    solver = make_solver(config["solver"])
    source, target = load_data(config["data"])
    device, joined = distributed.init_from_env(fit.get("device"))
    writer, finished = None, False
    try:
        main = distributed.is_main()
        if main:
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / RUN_CONFIG, config)
            board = out / TENSORBOARD_DIR if fit.get("tensorboard") else None
            writer = MetricsWriter(out / METRICS_FILE, fit.get("log_every", 10), board)
        solver.fit(source, target, steps=fit.get("steps"), seed=fit.get("seed"), device=device,
                   callbacks=[writer] if writer else [], progress=progress, checkpoint_dir=out / CHECKPOINT_DIR,
                   checkpoint_every=fit.get("checkpoint_every", 200), resume=resume)
        if main:
            solver.save(out / MODEL_DIR)
            _plot(solver, source, target, out / FIGURE_FILE, fit.get("seed") or 0)
        finished = True
    finally:
        if writer is not None:
            writer.close()
        if joined:
            distributed.shutdown(wait=finished)
    return solver


def _plot(solver: Solver, source: np.ndarray, target: np.ndarray, path: Path, seed: int) -> None:
    try:
        from neurot.plotting import plot_run
    except ImportError:
        logger.warning("matplotlib is not installed: no figure (pip install 'neurot[plot]')")
    else:
        plot_run(solver, source, target, path, seed=seed)


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
