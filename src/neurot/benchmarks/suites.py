"""Benchmark suites: fit solvers on pairs with exact ground truth and score them beside the exact sampler's floor.

Each suite returns a list of rows (plain dicts, JSON-ready); :func:`format_table` renders them as Markdown.

- ``gaussian``: the EgNOT paper's Table 1 protocol (:func:`~neurot.benchmarks.gaussian.gaussian_benchmark_pair`):
  plan BW2-UVP on ``(x, y)`` in ``R^{2D}``, target-marginal BW2-UVP, and cBW2-UVP, each with the score of exact
  samples of the same size (the Monte-Carlo floor), fit wall time, and the paper's plan number. The full grid
  scores the plan on 100k test inputs as the paper did; ``--quick`` on 10k, whose larger floor (0.04-0.07 % at
  D = 16) inflates the plan metric by about as much.
- ``mixture``: the Gushchin et al. benchmark (:mod:`~neurot.benchmarks.mixture`): cBW2-UVP over test inputs with
  many samples each, trained on fresh draws (the published protocol) and on 20k fixed samples, the floor, and the
  published LightSB / best-before-LightSB numbers.
- ``unbalanced``: SF-EUOT against the exact unbalanced Gaussian plan, and the share of samples sent to 2 % far
  outliers by balanced and unbalanced solvers (:mod:`~neurot.benchmarks.unbalanced_suite`).
- ``speed``: EgNOT training throughput, memory and profile, sampling a million chains in bounded memory, and time to
  accuracy (:mod:`~neurot.benchmarks.speed`).
- ``single-cell``: trajectory inference on a user's time course (``--data``), the LightSB paper's protocol
  (:mod:`~neurot.benchmarks.single_cell`): the energy distance at held-out days beside floors and published numbers.
- ``dynamic``: OT flow against Gaussian closed forms (:mod:`~neurot.benchmarks.dynamic_suite`): map L2-UVP, kinetic
  cost, log-ratio error, and mutual information of correlated pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurot.benchmarks.dynamic_suite import DynamicGrid, dynamic_suite
from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp, cbw2_uvp, timed
from neurot.benchmarks.mixture import benchmark_pair
from neurot.benchmarks.published import EGNOT_GAUSSIAN_PLAN, MIXTURE_BEST_BEFORE_LIGHTSB, MIXTURE_LIGHTSB
from neurot.benchmarks.single_cell import SingleCellGrid, single_cell_suite
from neurot.benchmarks.speed import speed_suite
from neurot.benchmarks.unbalanced_suite import UnbalancedGrid, unbalanced_suite


def _egnot(**options: Any) -> Callable[[float], Any]:
    def make(eps: float):
        from neurot.solvers import EgNOT

        return EgNOT(eps=eps, **options)

    return make


def _lightsb(eps: float):
    from neurot.solvers import LightSB

    return LightSB(eps=eps)


def _sfeuot(**options: Any) -> Callable[[float], Any]:
    def make(eps: float):
        from neurot.solvers import SFEUOT

        return SFEUOT(eps=eps, **options)

    return make


def _otflow(eps: float):
    """OT flow, which has no ``eps``."""
    from neurot.solvers import OTFlow

    return OTFlow()


#: Solvers the suites can run, by name: ``eps -> unfitted solver``.
SOLVERS: dict[str, Callable[[float], Any]] = {
    "egnot": _egnot(),
    "lightsb": _lightsb,
    "sfeuot": _sfeuot(),
    "sfeuot-gaussian": _sfeuot(generator="gaussian"),
    "otflow": _otflow,
}


@dataclass(frozen=True)
class Grid:
    """What a suite runs: dimensions, eps values, solvers, sample sizes and seed."""

    dims: Sequence[int]
    eps: Sequence[float]
    solvers: Sequence[str]
    n_train: int = 20_000
    n_test: int = 20_000
    n_conditional: tuple[int, int] = (100, 1000)
    seed: int = 0


def _fit(name: str, eps: float, x: np.ndarray, y: np.ndarray, seed: int, device: str | None,
         steps: int | None = None):
    solver = SOLVERS[name](eps)
    return solver, timed(lambda: solver.fit(x, y, steps=steps, seed=seed, device=device))[1]["fit_seconds"]


def _draw(solver, x: np.ndarray, n_per_x: int | None, seed: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    y = solver.sample(x.astype(np.float32), n_per_x=n_per_x, seed=seed).cpu().numpy().astype(float)
    return y, time.perf_counter() - start


def _problems(grid: Grid, make: Callable[[int, float, int], Any]) -> Iterator[tuple]:
    """``(dim, eps, problem, rng, x_train, y_train)`` for every cell of ``grid``; ``make(dim, eps, seed)``."""
    for dim in grid.dims:
        for eps in grid.eps:
            problem = make(dim, eps, grid.seed)
            rng = np.random.default_rng(grid.seed)
            x_train, y_train = problem.sample_source(grid.n_train, rng), problem.sample_target(grid.n_train, rng)
            yield dim, eps, problem, rng, x_train, y_train


def gaussian_suite(grid: Grid, device: str | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Rows of the Gaussian suite for every (D, eps, solver) of ``grid``."""
    rows = []
    for dim, eps, problem, rng, x_train, y_train in _problems(grid, gaussian_benchmark_pair):
        x_test = problem.sample_source(grid.n_test, rng)
        n_x, n_per_x = grid.n_conditional
        x_cond = x_test[:n_x]
        target_var = float(np.trace(problem.target_cov))
        exact_y = problem.sample_conditional(x_test, 1, rng)[:, 0]
        floor = {
            "plan_bw2_uvp": bw2_uvp(np.hstack([x_test, exact_y]), problem.plan_mean, problem.plan_cov),
            "target_bw2_uvp": bw2_uvp(exact_y, problem.target_mean, problem.target_cov),
            "cbw2_uvp": cbw2_uvp(problem.sample_conditional(x_cond, n_per_x, rng),
                                 problem.conditional_mean(x_cond), problem.conditional_cov, target_var),
        }
        for name in grid.solvers:
            log(f"gaussian D={dim} eps={eps:g} {name}: fitting")
            solver, fit_seconds = _fit(name, eps, x_train, y_train, grid.seed, device)
            y, sample_seconds = _draw(solver, x_test, None, grid.seed + 1)
            y_cond, _ = _draw(solver, x_cond, n_per_x, grid.seed + 2)
            rows.append({
                "suite": "gaussian", "solver": name, "dim": dim, "eps": eps,
                "plan_bw2_uvp": bw2_uvp(np.hstack([x_test, y]), problem.plan_mean, problem.plan_cov),
                "target_bw2_uvp": bw2_uvp(y, problem.target_mean, problem.target_cov),
                "cbw2_uvp": cbw2_uvp(y_cond, problem.conditional_mean(x_cond), problem.conditional_cov,
                                     target_var),
                **{f"floor_{k}": v for k, v in floor.items()},
                "paper_egnot_plan_bw2_uvp": EGNOT_GAUSSIAN_PLAN.get((float(eps), dim)),
                "fit_seconds": fit_seconds, "sample_seconds": sample_seconds, "n_test": grid.n_test,
            })
    return rows


def fresh_draws(problem: Any, seed: int) -> tuple[Callable[[int], np.ndarray], Callable[[int], np.ndarray]]:
    """Callables ``n -> [n, D]`` drawing fresh source and target points of ``problem`` (one stream, ``seed``)."""
    rng = np.random.default_rng(seed)
    return (lambda n: problem.sample_source(n, rng)), (lambda n: problem.sample_target(n, rng))


def mixture_suite(grid: Grid, device: str | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Rows of the mixture suite for every (D, eps, solver) of ``grid``.

    Each solver trains twice: on fresh draws from the benchmark's samplers at every step (``cbw2_uvp``, the
    protocol of LightSB and of the benchmark's authors) and on ``grid.n_train`` fixed samples of each side
    (``cbw2_uvp_finite``), whose statistical limit sits near the floor at small eps.
    """
    rows = []
    for dim, eps, problem, rng, x_train, y_train in _problems(grid, benchmark_pair):
        n_x, n_per_x = grid.n_conditional
        x_cond = problem.sample_source(n_x, rng)
        means, covs = problem.conditional_mean(x_cond), problem.conditional_cov(x_cond)
        target_var = problem.target_variance(rng)
        floor = cbw2_uvp(problem.sample_conditional(x_cond, n_per_x, rng), means, covs, target_var)
        fresh = fresh_draws(problem, grid.seed + 7)
        for name in grid.solvers:
            log(f"mixture D={dim} eps={eps:g} {name}: fitting on fresh draws, then on {grid.n_train} samples")
            solver, fit_seconds = _fit(name, eps, *fresh, grid.seed, device)
            y_cond, sample_seconds = _draw(solver, x_cond, n_per_x, grid.seed + 1)
            finite, _ = _fit(name, eps, x_train, y_train, grid.seed, device)
            y_finite, _ = _draw(finite, x_cond, n_per_x, grid.seed + 1)
            rows.append({
                "suite": "mixture", "solver": name, "dim": dim, "eps": eps,
                "cbw2_uvp": cbw2_uvp(y_cond, means, covs, target_var), "floor_cbw2_uvp": floor,
                "cbw2_uvp_finite": cbw2_uvp(y_finite, means, covs, target_var),
                "published_lightsb": MIXTURE_LIGHTSB.get((float(eps), dim)),
                "published_best_before_lightsb": MIXTURE_BEST_BEFORE_LIGHTSB.get((float(eps), dim)),
                "fit_seconds": fit_seconds, "sample_seconds": sample_seconds,
            })
    return rows


@dataclass(frozen=True)
class Suite:
    """One suite of ``neurot bench``.

    ``run(grid, device, log) -> rows``; its full and ``--quick`` grids; the columns of its table (``(row key,
    title)``); the command-line options that set fields of its grid; the reference methods it accepts in its
    solver list beside :data:`SOLVERS`.
    """

    run: Callable[..., list[dict]]
    full: Any
    quick: Any
    columns: list[tuple[str, str]]
    options: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


_SYNTHETIC = ("dims", "n_conditional")
_EXACT_FLOORS = [("cbw2_uvp", "cBW2-UVP %"), ("floor_cbw2_uvp", "floor")]

#: The suites by name; the full grids are the published protocols, the quick ones take minutes on 2 CPU cores.
SUITES: dict[str, Suite] = {
    "gaussian": Suite(
        gaussian_suite,
        Grid(dims=(2, 16, 64, 128), eps=(0.1, 1.0, 10.0), solvers=("egnot", "lightsb", "sfeuot"), n_test=100_000),
        Grid(dims=(2, 16), eps=(0.1, 1.0, 10.0), solvers=("egnot", "lightsb"), n_test=10_000),
        [("solver", "solver"), ("dim", "D"), ("eps", "eps"), ("plan_bw2_uvp", "plan BW2-UVP %"),
         ("floor_plan_bw2_uvp", "floor"), ("paper_egnot_plan_bw2_uvp", "paper EgNOT"),
         ("target_bw2_uvp", "target BW2-UVP %"), ("floor_target_bw2_uvp", "floor"), *_EXACT_FLOORS,
         ("fit_seconds", "fit s"), ("sample_seconds", "sample s")],
        _SYNTHETIC,
    ),
    "mixture": Suite(
        mixture_suite,
        Grid(dims=(2, 16, 64, 128), eps=(0.1, 1.0, 10.0), solvers=("lightsb", "egnot", "sfeuot"),
             n_conditional=(1000, 1000)),
        Grid(dims=(2, 16), eps=(0.1, 1.0, 10.0), solvers=("lightsb",), n_conditional=(1000, 1000)),
        [("solver", "solver"), ("dim", "D"), ("eps", "eps"), *_EXACT_FLOORS,
         ("cbw2_uvp_finite", "cBW2-UVP %, 20k samples"), ("published_lightsb", "LightSB (published)"),
         ("published_best_before_lightsb", "best before LightSB"),
         ("fit_seconds", "fit s"), ("sample_seconds", "sample s")],
        _SYNTHETIC,
    ),
    "unbalanced": Suite(
        unbalanced_suite,
        UnbalancedGrid(),
        UnbalancedGrid(taus=(1.0,), psis=("kl",), solvers=("sfeuot", "lightsb"), n_train=10_000, n_test=10_000,
                       steps=1000),
        [("case", "case"), ("solver", "solver"), ("eps", "eps"), ("tau", "tau"), ("psi", "psi"),
         ("mean_error", "target mean err"), ("cov_error", "target cov err"), ("plan_bw2_uvp", "plan BW2-UVP %"),
         ("mass", "mass"), ("exact_mass", "exact"), ("weight_error", "weight rel err"),
         ("outlier_share", "near outliers %"), ("exact_outlier_share", "exact"), ("inlier_error", "inlier mean err"),
         ("fit_seconds", "fit s")],
    ),
    "speed": Suite(
        speed_suite,
        Grid(dims=(2, 16, 64, 128), eps=(1.0,), solvers=("egnot",)),
        Grid(dims=(16,), eps=(1.0,), solvers=("egnot",)),
        [("case", "case"), ("dim", "D"), ("eps", "eps"), ("it_per_s", "it/s"), ("samples_per_s", "samples/s"),
         ("peak_mib", "peak MiB"), ("added_mib", "added MiB"), ("output_mib", "output MiB"),
         ("langevin_share", "Langevin share"), ("top_ops", "top operators (self CPU)"),
         ("reached_at_step", "reached at step"), ("reached_after_s", "after fit s"),
         ("plan_bw2_uvp", "final plan BW2-UVP %")],
        ("dims",),
    ),
    "single-cell": Suite(
        single_cell_suite,
        SingleCellGrid(solvers=("egnot", "lightsb", "sfeuot", "otflow", "sinkhorn")),
        SingleCellGrid(solvers=("lightsb", "sfeuot", "sinkhorn")),
        [("solver", "solver"), ("dim", "D"), ("eps", "eps"), ("day", "day"), ("energy", "energy"),
         ("floor", "floor"), ("start_day", "start day"), ("end_day", "end day"),
         ("published_lightsb", "LightSB (published)"), ("published_sinkhorn", "Sinkhorn"),
         ("published_egnot", "EgNOT"), ("published_enot", "ENOT"), ("pushforward", "end-day energy"),
         ("floor_end", "floor"), ("fit_seconds", "fit s"), ("sample_seconds", "sample s"), ("note", "note")],
        ("data", "start", "end", "scored", "time_key", "key", "eps"),
        ("sinkhorn",),
    ),
    "dynamic": Suite(
        dynamic_suite,
        DynamicGrid(dims=(8, 40, 80)),
        DynamicGrid(dims=(8,), steps=3000),  # a fifth of OT flow's default 15000 steps
        [("case", "case"), ("dim", "D"), ("steps", "steps"), ("l2_uvp", "map L2-UVP %"), ("inversion", "inversion"),
         ("kinetic", "kinetic"), ("map_cost", "map cost"), ("ot_cost", "1/2 W2^2"),
         ("log_ratio_rel_rmse", "log-ratio rel. RMSE"),
         ("mi", "MI"), ("mi_exact", "exact MI"), ("mi_rel_error", "MI rel. error"), ("fit_seconds", "fit s"),
         ("fit_cpu_seconds", "fit CPU s")],
        ("dims",),
    ),
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Markdown table of one suite's rows."""
    if not rows:
        return "(no rows)"
    columns = SUITES[rows[0]["suite"]].columns
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)
