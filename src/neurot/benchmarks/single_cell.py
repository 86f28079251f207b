"""Single-cell trajectory inference: the LightSB paper's protocol (Korotin et al., ICLR 2024, Table 3).

A time course holds cells measured on a few days, one point cloud ``[cells, D]`` per day. A solver learns the plan
from a start day ``s`` to an end day ``e``; each start cell's path at ``t = (day - s) / (e - s)`` is scored against
the cells of an intermediate day it never saw, by the energy distance
``E|X - Y| - E|X - X'| / 2 - E|Y - Y'| / 2`` (:func:`~neurot.benchmarks.metrics.half_energy_distance`).

1. The used days (``s``, ``e`` and the scored ones) are divided by one constant, :func:`data_scale`, and the plan is
   learnt at ``eps`` in those units (0.1 by default, cost ``1/2 |x - y|^2``, ``eps KL(pi || P x Q)``).
2. :meth:`~neurot.solvers.base.Solver.evaluate` draws every start cell's path (Brownian bridges to a draw of
   ``pi(. | x)`` for EgNOT and SF-EUOT, the flow for OT flow) and scores it at the scored days and at ``e``; energy
   distance is 1-homogeneous, so scores times the constant are in the data's original units.
3. Beside each score: the two-halves floor of the day (:func:`two_sample_floor`), the start and end days' own
   scores against the scored day (how far the days are apart), and the published numbers when the data matches.

The ``sinkhorn`` row is the discrete entropic plan between the two full point sets (POT's log-domain Sinkhorn,
:func:`sinkhorn_plan`), scored through the same bridges (:func:`sinkhorn_bridge`).
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurot._validation import check_int, check_positive
from neurot.benchmarks.metrics import half_energy_distance, two_sample_floor
from neurot.benchmarks.published import SINGLE_CELL
from neurot.bridges import bridge_points
from neurot.data import load_time_course

#: Entries of the largest discrete plan the ``sinkhorn`` row computes (20k x 20k cells).
MAX_PLAN_ENTRIES = 20_000 * 20_000
#: Halvings of the regularisation on the way to ``eps`` in :func:`sinkhorn_plan`.
SINKHORN_HALVINGS = 6
#: Methods of the published table, in its order.
PUBLISHED_METHODS = ("lightsb", "sinkhorn", "egnot", "enot")
#: Why the ``sinkhorn`` row is missing when POT is.
NO_POT = "skipped: the sinkhorn row needs POT (pip install 'neurot[pot]')"


@dataclass(frozen=True)
class SingleCellGrid:
    """What the single-cell suite runs: a time course, its days, ``eps`` and solvers.

    ``data``: a folder of one ``.npy`` / ``.csv`` file per day or one time-course file (:func:`load_time_course`,
    with ``time_key`` and ``key``). ``start``, ``end``, ``scored``: the days (default: the published protocol's
    2 -> 4, scored at 3). ``steps``: training iterations of every solver (None: each solver's default).
    """

    solvers: Sequence[str]
    data: str | None = None
    start: float = 2.0
    end: float = 4.0
    scored: Sequence[float] = (3.0,)
    eps: float = 0.1
    time_key: str | None = None
    key: str | None = None
    steps: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("eps", self.eps)
        check_int("steps", self.steps, allow_none=True)


def select_days(course: dict[float, np.ndarray], start: float, end: float,
                scored: Sequence[float]) -> dict[float, np.ndarray]:
    """The days the protocol uses, ``{day: [N_day, D]}`` for ``start``, the ``scored`` days and ``end``, in order.

    Raises ``ValueError`` unless ``start < scored < end`` and the course has every one of these days.
    """
    days = [float(start), *map(float, scored), float(end)]
    if not scored or any(not start < day < end for day in days[1:-1]):
        raise ValueError(f"scored days must lie strictly between the start day {start:g} and the end day {end:g}, "
                         f"got {[f'{day:g}' for day in scored]}")
    missing = [day for day in days if day not in course]
    if missing:
        raise ValueError(f"the time course has no day {', '.join(f'{day:g}' for day in missing)}; its days are "
                         f"{', '.join(f'{day:g}' for day in course)} (choose them with --start, --end and --scored)")
    return {day: course[day] for day in sorted(days)}


def data_scale(days: Iterable[np.ndarray]) -> float:
    """The protocol's unit: the mean over dimensions of the per-dimension standard deviation of the days stacked.

    ``days``: point sets ``[N_day, D]``; returns a number > 0 (6.44 for the CITE-seq days 2, 3 and 4 at D = 50).
    """
    scale = float(np.concatenate(list(days)).astype(np.float64).std(axis=0).mean())
    if not scale > 0:
        raise ValueError("the days' points are all equal: the data has no scale")
    return scale


def day_references(days: dict[float, np.ndarray], start: float, end: float, day: float, seed: int) -> dict[str, Any]:
    """What one scored ``day`` is compared with, in the data's units (``days``: ``{day: [N_day, D]}``).

    ``floor``: two halves of the day; ``start_day`` / ``end_day``: the start / end day's own cells against it;
    ``published_<method>``: the LightSB paper's scores when the data's dimension and days match its protocol.
    """
    published = SINGLE_CELL.get((days[day].shape[1], start, end, day), {})
    return {"floor": two_sample_floor(days[day], seed), "start_day": half_energy_distance(days[start], days[day]),
            "end_day": half_energy_distance(days[end], days[day]),
            **{f"published_{method}": published.get(method) for method in PUBLISHED_METHODS}}


def check_plan_size(n: int, m: int) -> None:
    """Raise ``ValueError`` when the discrete plan ``[n, m]`` would exceed :data:`MAX_PLAN_ENTRIES`."""
    if n * m > MAX_PLAN_ENTRIES:
        raise ValueError(f"the sinkhorn row's plan between {n} and {m} cells would hold {n * m:.3g} entries, more "
                         "than 20k x 20k: subsample the days or leave sinkhorn out of --solvers")


def sinkhorn_plan(x: torch.Tensor, y: torch.Tensor, eps: float, tol: float = 1e-2) -> tuple[torch.Tensor, int]:
    """The discrete entropic plan between the cells ``x [n, D]`` and ``y [m, D]`` (uniform weights): ``[n, m]``.

    It minimises ``<pi, C> + eps KL(pi || a b^T)`` with ``C = 1/2 |x_i - y_j|^2``, which on plans with marginals
    ``a, b`` differs by a constant from POT's ``<pi, M> - reg H(pi)``: ``M = C``, ``reg = eps``. Log-domain Sinkhorn
    (``ot.sinkhorn(method="sinkhorn_log")``) on the device and dtype of ``x``, run at ``reg = 2^k eps`` for
    ``k = SINKHORN_HALVINGS, ..., 0``, each warm-started from the last (epsilon scaling), every one until the mass
    misplaced from the column marginal is below ``tol`` (POT's L2 criterion at ``tol / sqrt(m)``). Returns the plan
    and the iterations of all stages. Needs POT.

    On 1000 x 1400 cells of the CITE-seq days 2 and 4 (eps = 0.1 in the protocol's units), ``tol = 1e-2`` took 220
    iterations with the warm starts and 1180 without; ``tol = 1e-3`` (750 with them) moved the score at day 3 by
    0.01, a third of its spread over the bridges' seeds.
    """
    import ot

    check_plan_size(len(x), len(y))
    a = x.new_full((len(x),), 1 / len(x))
    b = y.new_full((len(y),), 1 / len(y))
    cost, warmstart, iterations = ot.dist(x, y) / 2, None, 0
    for k in range(SINKHORN_HALVINGS, -1, -1):
        plan, log = ot.sinkhorn(a, b, cost, eps * 2**k, method="sinkhorn_log", numItermax=100_000,
                                stopThr=tol / math.sqrt(len(y)), warmstart=warmstart, log=True)
        warmstart, iterations = (2 * log["log_u"], 2 * log["log_v"]), iterations + int(log["niter"])
    return plan, iterations


def sinkhorn_bridge(plan: torch.Tensor, x: torch.Tensor, y: torch.Tensor, times: Sequence[float], eps: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per row of ``plan [n, m]`` a partner drawn from its row and the bridge points at each of ``times``.

    Returns the partners ``[n, D]`` (rows of ``y [m, D]``) and, for each ``t``, ``X_t [n, D]`` on the Brownian
    bridge from ``x [n, D]`` to the partner (:func:`~neurot.bridges.bridge_points`, variance ``eps t (1 - t)``).
    """
    partners = y[torch.multinomial(plan, 1, generator=generator)[:, 0]]
    return partners, [bridge_points(x, partners, x.new_full((len(x),), t), eps, generator) for t in times]


def _sinkhorn_scores(scaled: dict[float, np.ndarray], scale: float, grid: SingleCellGrid,
                     device: str | None) -> dict[str, Any]:
    """The ``sinkhorn`` row's scores in original units (see :func:`_solver_scores`)."""
    x, y = (torch.as_tensor(scaled[day], device=device) for day in (grid.start, grid.end))
    start = time.perf_counter()
    plan, iterations = sinkhorn_plan(x, y, grid.eps)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    generator = torch.Generator(x.device).manual_seed(grid.seed + 1)
    partners, points = sinkhorn_bridge(plan, x, y, [_time(grid, day) for day in grid.scored], grid.eps, generator)
    sample_seconds = time.perf_counter() - start
    return {"eps": grid.eps, "fit_seconds": fit_seconds, "note": f"{iterations} Sinkhorn iterations",
            "pushforward": half_energy_distance(partners.cpu() * scale, scaled[grid.end] * scale),
            "days": {day: {"energy": half_energy_distance(p.cpu() * scale, scaled[day] * scale),
                           "sample_seconds": sample_seconds} for day, p in zip(grid.scored, points, strict=True)}}


def _solver_scores(name: str, scaled: dict[float, np.ndarray], scale: float, grid: SingleCellGrid,
                   device: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    """Fit solver ``name`` from the start to the end day of ``scaled`` (``{day: [N_day, D]}`` in units of ``scale``).

    Returns ``eps``, ``fit_seconds``, ``pushforward`` (the plan's draw of every start cell against the end day) and
    per scored day ``energy`` (the paths at its time against it) and ``sample_seconds`` (drawing those points), the
    scores in original units.
    """
    from neurot.benchmarks.suites import _fit  # suites registers this module's suite

    x, y = scaled[grid.start], scaled[grid.end]
    solver, fit_seconds = _fit(name, grid.eps, x, y, grid.seed, device, steps=grid.steps)
    log(f"single-cell {name}: fitted in {fit_seconds:.0f} s, scoring")
    times = {day: _time(grid, day) for day in grid.scored}
    scores = solver.evaluate(x, y, intermediate={times[day]: scaled[day] for day in grid.scored}, seed=grid.seed + 1)
    days = {}
    for day, t in times.items():
        start = time.perf_counter()
        solver.interpolate(x, t, seed=grid.seed + 2)  # timed only: evaluate scored a draw of its own
        days[day] = {"energy": scores[f"energy_t={t:g}"] * scale, "sample_seconds": time.perf_counter() - start}
    return {"eps": getattr(solver.config, "eps", None), "fit_seconds": fit_seconds,
            "pushforward": scores["energy"] * scale, "days": days}


def _time(grid: SingleCellGrid, day: float) -> float:
    """The time in ``[0, 1]`` of ``day`` on the path from the start to the end day."""
    return (day - grid.start) / (grid.end - grid.start)


def single_cell_suite(grid: SingleCellGrid, device: str | None = None,
                      log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Rows of the single-cell suite: one per solver of ``grid`` and scored day, scores in the data's units.

    Each row: ``energy`` (the paths at the day's time against its cells), ``floor``, ``start_day``, ``end_day`` and
    ``published_<method>`` (:func:`day_references`), ``pushforward`` (the plan's draws against the end day) and
    ``floor_end`` (two halves of the end day), ``fit_seconds`` and ``sample_seconds``; ``scale`` is the unit the
    solvers saw (:func:`data_scale`).
    """
    if grid.data is None:
        raise ValueError("the single-cell suite needs a time course: --data DIR_OR_FILE (a folder of one .npy or "
                         ".csv file per day, or an .h5ad / .npz / CSV file with --time-key)")
    course = load_time_course(grid.data, time_key=grid.time_key, key=grid.key)
    days = select_days(course, grid.start, grid.end, grid.scored)
    if "sinkhorn" in grid.solvers:
        check_plan_size(len(days[grid.start]), len(days[grid.end]))
    scale = data_scale(days.values())
    scaled = {day: points / scale for day, points in days.items()}
    log(f"single-cell: days {', '.join(f'{d:g}' for d in days)}, D = {days[grid.start].shape[1]}, scale {scale:.3g}")
    shared = {"suite": "single-cell", "dim": days[grid.start].shape[1], "start": grid.start, "end": grid.end,
              "scale": scale, "floor_end": two_sample_floor(days[grid.end], grid.seed)}
    references = {day: day_references(days, grid.start, grid.end, day, grid.seed) for day in grid.scored}
    rows = []
    for name in grid.solvers:
        if name == "sinkhorn" and importlib.util.find_spec("ot") is None:
            rows.append({**shared, "solver": name, "note": NO_POT})
            continue
        log(f"single-cell {name}: fitting")
        scores = (_sinkhorn_scores(scaled, scale, grid, device) if name == "sinkhorn"
                  else _solver_scores(name, scaled, scale, grid, device, log))
        per_day = scores.pop("days")
        rows += [{**shared, "solver": name, "day": day, "t": _time(grid, day), **references[day], **scores,
                  **per_day[day]} for day in grid.scored]
    return rows
