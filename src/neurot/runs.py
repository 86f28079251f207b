"""Run directories: train from a config and leave the config, weights, metrics and a figure behind.

Layout of ``RUN_DIR``: ``config.json`` (the resolved run configuration), ``model/`` (the solver's ``save``),
``metrics.jsonl`` (one JSON object per logged step, with ``step``), ``figure.png``, ``checkpoints/`` (the newest two
training checkpoints, :mod:`neurot.checkpoint`) and, when asked for, ``tensorboard/``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurot import distributed
from neurot.data import TOY_SETS, load_time_course, read_points, toy_sampler
from neurot.io import atomic_write_text, write_json
from neurot.solvers import SOLVERS, Solver, load

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"
MODEL_DIR = "model"
METRICS_FILE = "metrics.jsonl"
FIGURE_FILE = "figure.png"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
CHECK_FILE = "check.json"
#: Most points per set in the end-of-run check (its distances cost ``O(n^2)``).
CHECK_POINTS = 2000
#: Share of a file's points held out for the end-of-run check unless ``[fit] holdout`` says otherwise.
DEFAULT_HOLDOUT = 0.1


def load_points(spec: str, n_samples: int, seed: int, name: str, key: str | None = None) -> np.ndarray:
    """Points ``[N, D]``: ``n_samples`` from a toy set, or a file that :func:`neurot.data.read_points` reads."""
    if spec in TOY_SETS:
        return toy_sampler(spec, seed)(n_samples).numpy()
    if not Path(spec).exists():
        raise ValueError(f"{name} = {spec!r} is neither a toy data set {sorted(TOY_SETS)} nor an existing file")
    return read_points(spec, key=key)


@dataclass
class RunData:
    """A run's training points and the points of its end-of-run check (:meth:`neurot.solvers.Solver.evaluate`).

    ``source``, ``target``: training points ``[N, D]``; ``check_source``, ``check_target``: at most
    :data:`CHECK_POINTS` points each, held out from training (fresh draws for toy sets) unless ``held_out`` is
    False; ``intermediate``: for a time course, the points of the times between the two connected ones, keyed by
    the plan's time ``t`` in ``(0, 1)``.
    """

    source: np.ndarray
    target: np.ndarray
    check_source: np.ndarray
    check_target: np.ndarray
    intermediate: dict[float, np.ndarray]
    held_out: bool


def load_data(data: dict[str, Any], holdout: float = 0.0, seed: int = 0) -> RunData:
    """The points of a config's ``[data]`` table (:mod:`neurot.config`), with a ``holdout`` share kept for the check.

    A file's points are split at random (``seed``): ``holdout`` of them, at most :data:`CHECK_POINTS`, are not
    trained on. Toy sets are checked on fresh draws. With ``holdout = 0`` the check uses training points.
    """
    rng = np.random.default_rng(seed)
    if "time_course" not in data:
        sides = [_split(data[name], offset, data, holdout, rng) for offset, name in enumerate(("source", "target"))]
        (source, check_source, held_source), (target, check_target, held_target) = sides
        return RunData(source, target, check_source, check_target, {}, held_source and held_target)
    course = load_time_course(data["time_course"], time_key=data.get("time_key"), key=data.get("key"))
    start, end = float(data["source_time"]), float(data["target_time"])
    available = ", ".join(f"{when:g}" for when in course)
    for name, when in (("source_time", start), ("target_time", end)):
        if when not in course:
            raise ValueError(f"{name} = {when:g} is not a time of {data['time_course']}; its times are {available}")
    source, check_source = _hold_out(course[start], holdout, rng)
    target, check_target = _hold_out(course[end], holdout, rng)
    between = {(when - start) / (end - start): _at_most(points, CHECK_POINTS, rng)
               for when, points in course.items() if min(start, end) < when < max(start, end)}
    return RunData(source, target, check_source, check_target, dict(sorted(between.items())), holdout > 0)


def _split(spec: str, offset: int, data: dict[str, Any], holdout: float,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """Training and check points of one side (``offset`` 0: source, 1: target) and whether the check is held out."""
    name = ("source", "target")[offset]
    points = load_points(spec, data["n_samples"], data["seed"] + offset, name, data.get("key"))
    if spec in TOY_SETS:
        fresh = load_points(spec, min(CHECK_POINTS, data["n_samples"]), data["seed"] + offset + 2, name)
        return points, fresh, True
    return *_hold_out(points, holdout, rng), holdout > 0


def _hold_out(points: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split ``points [N, D]`` at random: training points, and ``share`` of them (at most ``CHECK_POINTS``)."""
    if share == 0:
        return points, _at_most(points, CHECK_POINTS, rng)
    order = rng.permutation(len(points))
    n_check = min(CHECK_POINTS, max(4, round(share * len(points))))
    if len(points) - n_check < 2:
        raise ValueError(f"[fit] holdout = {share} leaves {len(points) - n_check} of {len(points)} points to train on")
    return points[order[n_check:]], points[order[:n_check]]


def _at_most(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``points`` itself, or ``n`` of its rows drawn without replacement."""
    return points if len(points) <= n else points[rng.choice(len(points), n, replace=False)]


def format_check(check: dict[str, Any]) -> str:
    """One line a person can read: the run's end-of-run check (:data:`CHECK_FILE`)."""
    which = "held-out" if check["held_out"] else "training (holdout = 0)"
    parts = [f"pushforward vs {which} target {check['energy']:.4g} (floor: two halves of it, {check['floor']:.4g})"]
    parts += [f"{key.removeprefix('energy_')} {value:.4g}" for key, value in check.items()
              if key.startswith("energy_t=")]
    summary = f"final loss {check['final_loss']:.4g}, {check['fit_seconds']:.0f} s"
    return f"check (energy distance, docs/math.md section 8): {'; '.join(parts)}; {summary}"


def make_solver(options: dict[str, Any]) -> Solver:
    """Build the solver named in ``options["name"]`` with the remaining options."""
    options = dict(options)
    name = options.pop("name", "egnot")
    if name not in SOLVERS:
        raise ValueError(f"solver name must be one of {sorted(SOLVERS)}, got {name!r}")
    required = [f.name for f in dataclasses.fields(SOLVERS[name].Config)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [key for key in required if key not in options]
    if missing:
        raise ValueError(f"[solver] {name} needs {' and '.join(missing)} (no default, as in the API)")
    return SOLVERS[name](**options)


class MetricsWriter:
    """Callback appending every ``log_every``-th step's metrics to ``metrics.jsonl`` (and TensorBoard if asked).

    Each line gets ``seconds``, the wall time of training so far (a resumed run continues the killed one's clock).
    Step 1 is always written, and :meth:`close` writes the last step seen if it was not due.
    The first call at step ``s`` drops the lines of steps ``>= s`` already in the file, so a resumed run continues
    the file of the killed one without gaps or duplicates (a fresh run starts at step 1: an empty file).
    ``tensorboard``: also write scalars to this directory (needs the ``tensorboard`` package).
    """

    def __init__(self, path: Path, log_every: int, tensorboard: Path | None = None) -> None:
        self.path, self.log_every, self.tensorboard_dir = path, max(1, int(log_every)), tensorboard
        self.board: Any = None
        self.started: float | None = None  # perf_counter of the clock's zero
        self.pending: dict[str, float] | None = None  # the last step's metrics, when not written
        if tensorboard is not None:
            _summary_writer_class()

    def __call__(self, solver: Solver, step: int, metrics: dict[str, float]) -> None:
        """Append ``metrics`` as one JSON line when ``step`` is due."""
        if self.started is None:
            self._start(step)
        metrics = {**metrics, "seconds": round(time.perf_counter() - self.started, 3)}
        self.pending = metrics
        if step % self.log_every == 0 or step == 1:
            self._write(metrics)

    def _write(self, metrics: dict[str, float]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(metrics) + "\n")
        if self.board is not None:
            for key, value in metrics.items():
                if key != "step":
                    self.board.add_scalar(key, value, metrics["step"])
        self.pending = None

    def _start(self, step: int) -> None:
        kept = []
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _logged_step(line) < step]
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        elapsed = json.loads(kept[-1]).get("seconds", 0.0) if kept else 0.0
        self.started = time.perf_counter() - elapsed
        if self.tensorboard_dir is not None:
            self.board = _summary_writer_class()(str(self.tensorboard_dir), purge_step=step)

    def close(self) -> None:
        """Write the last step if it was not due, then flush and close the TensorBoard writer."""
        if self.pending is not None:
            self._write(self.pending)
        if self.board is not None:
            self.board.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """The lines of a run's ``metrics.jsonl`` (none when it has none), without a line cut short by a crash."""
    path = Path(run_dir) / METRICS_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if _logged_step(line) < math.inf]


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


def fit_run(config: dict[str, dict[str, Any]], out: str | Path, progress: bool | str | None = None,
            resume: bool = False, overwrite: bool = False) -> Solver:
    """Train as ``config`` says and fill the run directory ``out``; returns the fitted solver.

    Config, data and options are checked before anything is written. A directory that holds a run already is
    refused unless ``resume`` (continue it from its newest checkpoint in ``out/checkpoints``, written every
    ``[fit] checkpoint_every`` steps) or ``overwrite`` (replace its run files once the new run's inputs are
    checked). Under ``torchrun`` (``WORLD_SIZE > 1``) the processes train together and rank 0 writes the outputs.
    """
    out = Path(out)
    check_run_dir(out, resume, overwrite)
    fit = config["fit"]
    solver = make_solver(config["solver"])
    seed = fit.get("seed") or 0
    data = load_data(config["data"], fit.get("holdout", DEFAULT_HOLDOUT), seed)
    source, target = data.source, data.target
    stop = None if fit.get("stop") == "off" else "auto"
    checked = solver.check_fit(source, target, steps=fit.get("steps"), seed=fit.get("seed"), device=fit.get("device"),
                               checkpoint_every=fit.get("checkpoint_every", 200), stop=stop)
    device, joined = distributed.init_from_env(fit.get("device"))
    writer, finished = None, False
    try:
        main = distributed.is_main()
        if main:
            if overwrite:
                remove_run(out)
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / RUN_CONFIG, config)
            board = out / TENSORBOARD_DIR if fit.get("tensorboard") else None
            writer = MetricsWriter(out / METRICS_FILE, fit.get("log_every", 10), board)
        started = time.perf_counter()
        solver.fit(*checked, steps=fit.get("steps"), seed=fit.get("seed"), device=device,
                   callbacks=[writer] if writer else [], progress=progress, checkpoint_dir=out / CHECKPOINT_DIR,
                   checkpoint_every=fit.get("checkpoint_every", 200), resume=resume, stop=stop)
        fit_seconds = time.perf_counter() - started
        finished = True
    finally:
        if writer is not None:
            writer.close()
        if joined:  # the ranks part as soon as training ends; rank 0 writes the outputs alone
            distributed.shutdown(wait=finished)
    if main:
        solver.save(out / MODEL_DIR)
        check = solver.evaluate(data.check_source, data.check_target, intermediate=data.intermediate, seed=seed)
        write_json(out / CHECK_FILE, {**check, "held_out": data.held_out, "fit_seconds": fit_seconds,
                                      "final_loss": solver.history[-1].get("loss", math.nan)})
        _plot(solver, source, target, out / FIGURE_FILE, seed)
    return solver


RUN_FILES = (RUN_CONFIG, MODEL_DIR, METRICS_FILE, FIGURE_FILE, CHECKPOINT_DIR, TENSORBOARD_DIR, CHECK_FILE)
"""What a run writes into its directory (other files there are left alone)."""


def check_run_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a run in a directory that holds one, unless it is resumed or overwritten."""
    if resume and overwrite:
        raise ValueError("resume continues the run in the directory and overwrite replaces it: choose one")
    if out.exists() and not out.is_dir():
        raise ValueError(f"the run directory {out} is a file")
    if not resume and not overwrite and any((out / name).exists() for name in RUN_FILES):
        raise ValueError(f"{out} holds a run already: --overwrite replaces it, --resume continues it, "
                         "or choose another --out")


def remove_run(out: Path) -> None:
    """Delete the files and folders of :data:`RUN_FILES` in ``out``."""
    for name in RUN_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _plot(solver: Solver, source: np.ndarray, target: np.ndarray, path: Path, seed: int) -> None:
    try:
        from neurot.plotting import plot_run
    except ImportError:
        logger.warning("matplotlib is not installed: no figure (pip install 'neurot[plot]')")
    else:
        plot_run(solver, source, target, path, seed=seed)


def load_run(run_dir: str | Path, device: str | None = None) -> Solver:
    """The fitted solver of a run directory."""
    return load(Path(run_dir) / MODEL_DIR, device=device)


def sample_run(run_dir: str | Path, x: np.ndarray, n_per_x: int | None = None, seed: int | None = None) -> np.ndarray:
    """Draws from the run's plan for source points ``x [M, D]``."""
    solver = load_run(run_dir)
    return solver.sample(torch.as_tensor(x), n_per_x=n_per_x, seed=seed).cpu().numpy()
