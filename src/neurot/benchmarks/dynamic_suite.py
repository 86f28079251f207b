"""The ``dynamic`` suite (``neurot bench dynamic``): OT flow against Gaussian closed forms (docs/math.md section 6).

One row per (case, D) of the grid:

- ``gaussian``: ``P = N(0, A)``, ``Q = N(0.5, B)`` with covariances drawn by :func:`random_gaussian` (eigenvalues
  0.25 to 4, random bases). Map L2-UVP against the Brenier map, mean inversion error ``|T^{-1}(T(x)) - x|``, the
  flow's kinetic cost and its end map's cost ``E 1/2 |T(x) - x|^2`` (equal for straight paths) against
  ``1/2 W2^2`` (:func:`gaussian_ot_cost`), and the log-ratio relative RMSE
  (:func:`relative_rmse`) over ``n_test`` points from P and ``n_test`` from Q (the ratio is used on both).
- ``mi``: :class:`GaussianMIProblem` (``D / 2`` pairs of correlation ``rho``): :func:`neurot.mutual_information`
  on ``n_train + n_test`` pairs (``n_test`` held out) against ``-1/2 log det Sigma``, and the log-ratio relative
  RMSE over the held-out pairs and the same pairs shuffled (points of the product of marginals).

Fit times: wall clock (``fit_seconds``) and this process's CPU time (``fit_cpu_seconds``; with one torch thread
the core-seconds the fit used, which on a shared machine is the steadier number).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neurot.benchmarks.dynamic import GaussianMIProblem, gaussian_log_density_ratio, gaussian_ot_cost, l2_uvp
from neurot.benchmarks.gaussian import brenier_map, random_gaussian
from neurot.benchmarks.metrics import relative_rmse, timed
from neurot.information import mutual_information
from neurot.solvers.otflow import OTFlow

#: The cases of the suite, in the order they run for each D.
CASES = ("gaussian", "mi")


@dataclass(frozen=True)
class DynamicGrid:
    """What the dynamic suite runs: dimensions (even, for ``mi``), cases, samples, training steps and seed.

    ``steps``: OT flow iterations (None: its default schedule; fewer keep the phases' proportions);
    ``flow_options``: options of :class:`OTFlow` (None: its defaults).
    ``solvers`` is there for ``neurot bench --solvers``; the suite runs OT flow only.
    """

    dims: Sequence[int]
    cases: Sequence[str] = CASES
    solvers: Sequence[str] = ("otflow",)
    n_train: int = 50_000
    n_test: int = 10_000
    steps: int | None = None
    rho: float = 0.8
    seed: int = 0
    flow_options: dict | None = None


def gaussian_row(grid: DynamicGrid, dim: int, device: str | None = None) -> dict:
    """Map, inversion, kinetic-cost and log-ratio errors of OT flow between two Gaussians in ``dim`` (module doc)."""
    rng = np.random.default_rng(grid.seed)
    a, cov_a = random_gaussian(dim, rng)
    _, cov_b = random_gaussian(dim, rng)
    b = np.full(dim, 0.5)
    x, y = rng.multivariate_normal(a, cov_a, grid.n_train), rng.multivariate_normal(b, cov_b, grid.n_train)
    flow = OTFlow(**grid.flow_options or {})
    _, timing = timed(lambda: flow.fit(x, y, steps=grid.steps, seed=grid.seed, device=device))
    test = rng.multivariate_normal(a, cov_a, grid.n_test)
    mapped = flow.transport(test)
    displacement = mapped.cpu().double() - torch.as_tensor(test)
    inversion = (flow.inverse(mapped).cpu() - torch.as_tensor(test, dtype=torch.float32)).norm(dim=1).mean()
    mixed = np.concatenate([test, rng.multivariate_normal(b, cov_b, grid.n_test)])
    kinetic, optimum = flow.kinetic_energy(test), gaussian_ot_cost(a, cov_a, b, cov_b)
    return {
        "l2_uvp": l2_uvp(mapped, brenier_map(test, a, cov_a, b, cov_b), np.trace(cov_b)),
        "inversion": float(inversion), "kinetic": kinetic, "ot_cost": optimum,
        "kinetic_rel_error": kinetic / optimum - 1, "map_cost": 0.5 * float(displacement.square().sum(1).mean()),
        "log_ratio_rel_rmse": relative_rmse(flow.log_density_ratio(mixed),
                                            gaussian_log_density_ratio(mixed, a, cov_a, b, cov_b)),
        **timing,
    }


def mi_row(grid: DynamicGrid, dim: int, device: str | None = None) -> dict:
    """Mutual information of ``dim / 2`` correlated pairs by OT flow against the closed form (module doc)."""
    problem = GaussianMIProblem(dim, grid.rho)
    rng = np.random.default_rng(grid.seed)
    x, y = problem.sample(grid.n_train + grid.n_test, rng)
    flow = OTFlow(**grid.flow_options or {})
    fraction = grid.n_test / (grid.n_train + grid.n_test)
    estimate, timing = timed(lambda: mutual_information(x, y, flow=flow, test_fraction=fraction,
                                                        steps=grid.steps, seed=grid.seed, device=device))
    x_test, y_test = x[-grid.n_test:], y[-grid.n_test:]
    y_shuffled = y_test[rng.permutation(grid.n_test)]
    points = np.vstack([np.hstack([x_test, y_test]), np.hstack([x_test, y_shuffled])])
    exact_ratio = np.concatenate([problem.log_density_ratio(x_test, y_test),
                                  problem.log_density_ratio(x_test, y_shuffled)])
    exact = problem.mutual_information
    return {"mi": estimate, "mi_exact": exact, "mi_rel_error": estimate / exact - 1,
            "log_ratio_rel_rmse": relative_rmse(flow.log_density_ratio(points), exact_ratio),
            **timing}


ROWS = {"gaussian": gaussian_row, "mi": mi_row}


def dynamic_suite(grid: DynamicGrid, device: str | None = None,
                  log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Rows of the dynamic suite for every (D, case) of ``grid``."""
    if tuple(grid.solvers) != ("otflow",):
        raise ValueError(f"the dynamic suite runs OT flow only (solvers 'otflow'), got {list(grid.solvers)}")
    unknown = sorted(set(grid.cases) - set(CASES))
    if unknown:
        raise ValueError(f"unknown cases {unknown}; the dynamic suite has {list(CASES)}")
    rows = []
    for dim in grid.dims:
        for case in grid.cases:
            log(f"dynamic D={dim} {case}: fitting OT flow")
            rows.append({"suite": "dynamic", "case": case, "solver": "otflow", "dim": dim, "steps": grid.steps,
                         **ROWS[case](grid, dim, device)})
    return rows
