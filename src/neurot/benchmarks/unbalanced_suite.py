"""The ``unbalanced`` benchmark suite: SF-EUOT against the exact unbalanced Gaussian plan, and far outliers.

Two cases, each a list of rows (plain dicts, :func:`neurot.benchmarks.suites.format_table` renders them):

- ``gaussian``: a 2-D Gaussian pair whose target is shifted by ``(2, 1)``, so that mass is cheaper to create or
  destroy than to move. For each ``tau`` the exact solution of the semi-unbalanced problem (source hard, target
  ``tau KL``, the SF-EUOT paper's Lebesgue entropy; :class:`~neurot.benchmarks.unbalanced.UnbalancedGaussianEOT`)
  gives the target marginal and the plan: the rows hold the error of the samples' mean and covariance, the plan's
  BW2-UVP, the learned transported mass (mean target weight, 1 at the optimum) and the relative error of the
  learned target weights ``d pi_1 / dQ`` against the exact ones.
- ``outliers``: the toy target ``gaussian_outliers`` (2 % of the points moved far away, to
  :data:`~neurot.data.toy.OUTLIER_CENTRE`) from ``N(0, I)``: the share of samples landing near the outliers. A
  balanced plan must send the outliers' 2 % there; an unbalanced one (``tau = 1``) discards them (near 0 %) and its
  inliers should match the exact unbalanced solution for the inliers alone (``inlier_error``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp, timed
from neurot.benchmarks.unbalanced import UnbalancedGaussianEOT
from neurot.data.toy import OUTLIER_CENTRE, OUTLIER_SHARE, gaussian_outliers

#: Samples within this distance of :data:`OUTLIER_CENTRE` count as sent to the outliers (they spread by 0.5).
NEAR_OUTLIERS = 3.0
#: The unbalanced Gaussian case: the target's shift and the entropic regularisation.
SHIFT, GAUSSIAN_EPS = (2.0, 1.0), 0.5


@dataclass(frozen=True)
class UnbalancedGrid:
    """What the unbalanced suite runs.

    ``taus``: target penalties of the Gaussian case; ``psis``: divergences of the outlier case's unbalanced rows
    (``tau = 1``); ``solvers``: the balanced solvers of the outlier case (``"sfeuot"`` also runs the unbalanced
    rows); ``steps``: training steps of every fit (None: each solver's default).
    """

    taus: Sequence[float] = (0.3, 1.0, 5.0)
    psis: Sequence[str] = ("kl", "chi2", "softplus")
    solvers: Sequence[str] = ("sfeuot", "egnot", "lightsb")
    outlier_eps: float = 0.1
    n_train: int = 20_000
    n_test: int = 20_000
    steps: int | None = None
    seed: int = 0


def _timed_fit(solver: Any, x: np.ndarray, y: np.ndarray, grid: UnbalancedGrid, device: str | None) -> float:
    return timed(lambda: solver.fit(x, y, steps=grid.steps, seed=grid.seed, device=device))[1]["fit_seconds"]


def gaussian_rows(grid: UnbalancedGrid, device: str | None, log: Callable[[str], None]) -> list[dict]:
    """SF-EUOT with each ``tau`` of ``grid`` against the exact semi-unbalanced Gaussian solution."""
    from neurot.solvers import SFEUOT

    pair = gaussian_benchmark_pair(2, eps=GAUSSIAN_EPS, seed=grid.seed)
    rng = np.random.default_rng(grid.seed)
    shift = np.array(SHIFT)
    x_train, y_train = pair.sample_source(grid.n_train, rng), pair.sample_target(grid.n_train, rng) + shift
    x_test = pair.sample_source(grid.n_test, rng)
    rows = []
    for tau in grid.taus:
        log(f"unbalanced gaussian tau={tau:g}: fitting")
        exact = UnbalancedGaussianEOT(pair.source_mean, pair.source_cov, pair.target_mean + shift, pair.target_cov,
                                      GAUSSIAN_EPS, None, tau, entropy="lebesgue")
        solver = SFEUOT(eps=GAUSSIAN_EPS, tau=tau)
        fit_seconds = _timed_fit(solver, x_train, y_train, grid, device)
        y = solver.sample(x_test, seed=grid.seed + 1).cpu().numpy().astype(float)
        _, mean, cov = exact.target_marginal
        weights = solver.target_weight(y_train[:5000]).cpu().numpy()
        exact_weights = exact.target_density_ratio(y_train[:5000])
        rows.append({
            "suite": "unbalanced", "case": "gaussian", "solver": "sfeuot", "eps": GAUSSIAN_EPS, "tau": tau,
            "psi": "kl", "mean_error": float(np.linalg.norm(y.mean(0) - mean)),
            "cov_error": float(np.abs(np.cov(y.T) - cov).max()),
            "plan_bw2_uvp": bw2_uvp(np.hstack([x_test, y]), exact.plan_mean, exact.plan_cov),
            "mass": float(weights.mean()), "exact_mass": 1.0,
            "weight_error": float(np.abs(weights - exact_weights).mean() / exact_weights.mean()),
            "fit_seconds": fit_seconds,
        })
    return rows


def outlier_rows(grid: UnbalancedGrid, device: str | None, log: Callable[[str], None]) -> list[dict]:
    """The share of samples sent to 2 % far outliers: each balanced solver, and SF-EUOT with ``tau = 1``."""
    from neurot.benchmarks.suites import SOLVERS
    from neurot.solvers import SFEUOT

    eps = grid.outlier_eps
    generator = torch.Generator().manual_seed(grid.seed)
    x_train = torch.randn(grid.n_train, 2, generator=generator).numpy()
    y_train = gaussian_outliers(grid.n_train, generator).numpy()
    x_test = torch.randn(grid.n_test, 2, generator=generator).numpy()
    inliers = UnbalancedGaussianEOT(np.zeros(2), np.eye(2), [0.5, 0.0], 0.25 * np.eye(2), eps, None, 1.0,
                                    target_mass=1 - OUTLIER_SHARE, entropy="lebesgue").target_marginal[1]
    cases = [(name, SOLVERS[name](eps), None, None) for name in grid.solvers]
    if "sfeuot" in grid.solvers:
        cases += [("sfeuot", SFEUOT(eps=eps, tau=1.0, psi=psi), 1.0, psi) for psi in grid.psis]
    rows = []
    for name, solver, tau, psi in cases:
        log(f"unbalanced outliers {name} tau={tau} psi={psi}: fitting")
        fit_seconds = _timed_fit(solver, x_train, y_train, grid, device)
        y = solver.sample(x_test, seed=grid.seed + 1).cpu().numpy().astype(float)
        near = np.linalg.norm(y - np.array(OUTLIER_CENTRE), axis=1) < NEAR_OUTLIERS
        rows.append({
            "suite": "unbalanced", "case": "outliers", "solver": name, "eps": eps, "tau": tau, "psi": psi,
            "outlier_share": 100 * float(near.mean()),
            "exact_outlier_share": 100 * OUTLIER_SHARE if tau is None else 0.0,
            "inlier_error": None if tau is None else float(np.linalg.norm(y[~near].mean(0) - inliers)),
            "fit_seconds": fit_seconds,
        })
    return rows


def unbalanced_suite(grid: UnbalancedGrid, device: str | None = None,
                     log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Rows of both cases (module docstring)."""
    rows = gaussian_rows(grid, device, log) if "sfeuot" in grid.solvers else []
    return rows + outlier_rows(grid, device, log)
