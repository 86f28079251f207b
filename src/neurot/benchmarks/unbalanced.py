"""Exact unbalanced entropic OT between (scaled) Gaussians, by Sinkhorn iterations on quadratic potentials.

Problem (docs/math.md section 3), cost ``c(x, y) = 1/2 |x - y|^2``, ``alpha = m_a N(a, A)``, ``beta = m_b N(b, B)``:

    min over pi >= 0 of  E_pi[c] + eps KL(pi || R) + tau1 KL(pi_0 || alpha) + tau2 KL(pi_1 || beta)      (1)

with generalised KL (``KL(p || q) = int p log(p / q) - |p| + |q|``) and one of two entropy references ``R``:

- ``entropy="kl"``: ``R = alpha x beta`` (docs/math.md section 3, Janati et al. 2020, POT's
  ``ot.unbalanced.sinkhorn_unbalanced(a, b, ot.dist(x, y), reg=2 eps, reg_m=(2 tau1, 2 tau2))``; the factor 2
  because POT's cost has no 1/2).
- ``entropy="lebesgue"``: ``R = alpha x Lebesgue``, i.e. ``eps KL(pi || R) = -eps H(pi) + ...``: the SF-EUOT paper's
  ``-sigma^2 H(pi)`` (Choi & Choi 2024) with ``sigma^2 = eps``. POT reproduces it on a grid with the reference
  ``c = a[:, None] * dy``.

``tau = None`` (infinity) makes a marginal hard. With both hard, either reference gives the balanced plan of
:class:`~neurot.benchmarks.gaussian.GaussianEOT` (on couplings the two entropies differ by a constant).

The optimum is ``pi = exp((f(x) + g(y) - c(x, y)) / eps) R`` with quadratic ``f, g``, reached by the unbalanced
Sinkhorn updates (Sejourne et al. 2019; contraction factor ``tau / (tau + eps)``)

    f <- -(tau1 / (tau1 + eps)) eps log int exp((g(y) - c(x, y)) / eps) dR_y(y)
    g <- -(tau2 / (tau2 + eps)) eps log int exp((f(x) - c(x, y)) / eps) dalpha(x)  [+ (tau2 / (tau2 + eps)) eps log q]

(the last term only for the Lebesgue reference, ``q`` the density of ``beta``). Every function here is an exact
quadratic form ``-1/2 z^T P z + l^T z + k``, so each update is a Gaussian integral (a Schur complement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from neurot._validation import check_choice, check_int
from neurot.benchmarks.gaussian import GaussianEOT, _frozen, validate_gaussian_pair
from neurot.benchmarks.metrics import _as_positive_float, _symmetrise

__all__ = ["UnbalancedGaussianEOT"]


@dataclass(frozen=True)
class _Quadratic:
    """``phi(z) = -1/2 z^T prec z + lin^T z + const`` over ``z [n]`` (``prec`` symmetric ``[n, n]``)."""

    prec: np.ndarray
    lin: np.ndarray
    const: float

    def __add__(self, other: _Quadratic) -> _Quadratic:
        return _Quadratic(self.prec + other.prec, self.lin + other.lin, self.const + other.const)

    def scale(self, factor: float) -> _Quadratic:
        return _Quadratic(factor * self.prec, factor * self.lin, factor * self.const)

    def pad(self, before: int, after: int) -> _Quadratic:
        """The same function of a slice of a longer vector ``[before zeros, z, after zeros]``."""
        n = self.lin.shape[0]
        prec = np.zeros((before + n + after,) * 2)
        prec[before:before + n, before:before + n] = self.prec
        lin = np.zeros(before + n + after)
        lin[before:before + n] = self.lin
        return _Quadratic(prec, lin, self.const)

    def log_integral(self, keep: slice, out: slice) -> _Quadratic:
        """``log int exp(phi(z)) dz_out`` as a quadratic form of ``z_keep``; needs ``prec[out, out]`` > 0."""
        p_oo = self.prec[out, out]
        eigenvalues = np.linalg.eigvalsh(_symmetrise(p_oo))
        if eigenvalues[0] <= 0:
            raise FloatingPointError("the plan is not integrable (a Sinkhorn iterate lost positive curvature)")
        p_ko = self.prec[keep, out]
        solve = np.linalg.solve(p_oo, np.column_stack([p_ko.T, self.lin[out]]))
        prec = _symmetrise(self.prec[keep, keep] - p_ko @ solve[:, :-1])
        lin = self.lin[keep] - p_ko @ solve[:, -1]
        n_out = p_oo.shape[0]
        const = (self.const + 0.5 * self.lin[out] @ solve[:, -1] + 0.5 * n_out * math.log(2 * math.pi)
                 - 0.5 * float(np.sum(np.log(eigenvalues))))
        return _Quadratic(prec, lin, float(const))


def _log_gaussian(mean: np.ndarray, cov: np.ndarray, mass: float) -> _Quadratic:
    """``log(mass N(z; mean, cov))`` as a quadratic form."""
    prec = _symmetrise(np.linalg.inv(cov))
    _, logdet = np.linalg.slogdet(cov)
    const = math.log(mass) - 0.5 * (mean @ prec @ mean + logdet + len(mean) * math.log(2 * math.pi))
    return _Quadratic(prec, prec @ mean, float(const))


def _weight(tau: float | None, eps: float) -> float:
    """Sinkhorn damping ``tau / (tau + eps)``; 1 for a hard marginal (``tau = None``)."""
    return 1.0 if tau is None else tau / (tau + eps)


@dataclass(frozen=True, eq=False)
class UnbalancedGaussianEOT:
    """Exact solution of problem (1) between ``alpha = m_a N(a, A)`` and ``beta = m_b N(b, B)``.

    The plan is ``mass * N(plan_mean, plan_cov)`` over ``(x, y)`` in ``R^{2D}``.

    Attributes:
        source_mean, source_cov: ``a [D]``, ``A [D, D]``; target_mean, target_cov: ``b [D]``, ``B [D, D]``.
        eps: entropic regularisation (> 0).
        tau_source, tau_target: marginal penalty weights ``tau1``, ``tau2`` (> 0), ``None`` for a hard constraint.
        source_mass, target_mass: ``m_a``, ``m_b`` (> 0).
        entropy: ``"kl"`` (reference ``alpha x beta``) or ``"lebesgue"`` (reference ``alpha x dy``, SF-EUOT).
        iterations: maximum Sinkhorn iterations; ``tol``: stop when potentials change less than this.

    """

    source_mean: np.ndarray
    source_cov: np.ndarray
    target_mean: np.ndarray
    target_cov: np.ndarray
    eps: float
    tau_source: float | None = None
    tau_target: float | None = 1.0
    source_mass: float = 1.0
    target_mass: float = 1.0
    entropy: str = "kl"
    iterations: int = 100_000
    tol: float = 1e-12

    def __post_init__(self) -> None:
        validate_gaussian_pair(self)
        for name in ("tau_source", "tau_target"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _as_positive_float(name, getattr(self, name)))
        for name in ("source_mass", "target_mass"):
            object.__setattr__(self, name, _as_positive_float(name, getattr(self, name)))
        check_choice("entropy", self.entropy, ["kl", "lebesgue"])
        check_int("iterations", self.iterations)
        if self.entropy == "lebesgue" and self.tau_source is not None:
            raise ValueError("entropy='lebesgue' supports a hard source only: tau_source must be None")

    @property
    def dim(self) -> int:
        """The dimension ``D`` of each marginal."""
        return int(self.source_mean.shape[0])

    def balanced(self) -> GaussianEOT:
        """The balanced problem with the same Gaussians (the limit ``tau1, tau2 -> infinity``)."""
        return GaussianEOT(self.source_mean, self.source_cov, self.target_mean, self.target_cov, self.eps)

    # -- the Sinkhorn fixed point -----------------------------------------------------------------------------
    @cached_property
    def _potentials(self) -> tuple[_Quadratic, _Quadratic, int]:
        """Quadratic ``f`` (of ``x``), ``g`` (of ``y``) at the fixed point, and the iterations used."""
        d, eps = self.dim, self.eps
        x, y = slice(0, d), slice(d, 2 * d)
        eye = np.eye(d)
        neg_cost = _Quadratic(np.block([[eye, -eye], [-eye, eye]]), np.zeros(2 * d), 0.0).scale(1.0 / eps)
        log_alpha = _log_gaussian(self.source_mean, self.source_cov, self.source_mass)
        log_beta = _log_gaussian(self.target_mean, self.target_cov, self.target_mass)
        kl = self.entropy == "kl"
        w_source, w_target = _weight(self.tau_source, eps), _weight(self.tau_target, eps)
        f = _Quadratic(np.zeros((d, d)), np.zeros(d), 0.0)
        g, used = f, 0
        while used < self.iterations:
            used += 1
            inner = neg_cost + g.scale(1 / eps).pad(d, 0) + (log_beta.pad(d, 0) if kl else _zero(2 * d))
            f_new = inner.log_integral(x, y).scale(-eps * w_source)
            inner = neg_cost + f_new.scale(1 / eps).pad(0, d) + log_alpha.pad(0, d)
            g_new = inner.log_integral(y, x).scale(-eps * w_target)
            if not kl:
                g_new = g_new + log_beta.scale(eps * w_target)
            change = max(np.abs(f_new.prec - f.prec).max(), np.abs(g_new.prec - g.prec).max(),
                         np.abs(f_new.lin - f.lin).max(), np.abs(g_new.lin - g.lin).max(),
                         abs(f_new.const - f.const), abs(g_new.const - g.const))
            f, g = f_new, g_new
            if change < self.tol:
                break
        return f, g, used

    @cached_property
    def _log_plan(self) -> _Quadratic:
        """``log d pi / d(x, y)`` (density w.r.t. Lebesgue measure on ``R^{2D}``)."""
        d, eps = self.dim, self.eps
        f, g, _ = self._potentials
        eye = np.eye(d)
        log_alpha = _log_gaussian(self.source_mean, self.source_cov, self.source_mass).pad(0, d)
        log_beta = _log_gaussian(self.target_mean, self.target_cov, self.target_mass).pad(d, 0)
        value = (_Quadratic(np.block([[eye, -eye], [-eye, eye]]), np.zeros(2 * d), 0.0)
                 + f.pad(0, d) + g.pad(d, 0)).scale(1.0 / eps) + log_alpha
        return value + log_beta if self.entropy == "kl" else value

    @property
    def iterations_used(self) -> int:
        """Sinkhorn iterations until the potentials stopped changing (``tol``)."""
        return self._potentials[2]

    @cached_property
    def plan_cov(self) -> np.ndarray:
        """Covariance of the normalised plan over ``(x, y)``, ``[2D, 2D]``."""
        return _frozen(_symmetrise(np.linalg.inv(self._log_plan.prec)))

    @cached_property
    def plan_mean(self) -> np.ndarray:
        """Mean of the normalised plan over ``(x, y)``, ``[2D]``."""
        return _frozen(self.plan_cov @ self._log_plan.lin)

    @cached_property
    def mass(self) -> float:
        """Total mass of the plan ``pi(R^D x R^D)``."""
        whole = self._log_plan.log_integral(slice(0, 0), slice(0, 2 * self.dim))
        return float(math.exp(whole.const))

    @property
    def source_marginal(self) -> tuple[float, np.ndarray, np.ndarray]:
        """``(mass, mean [D], cov [D, D])`` of the plan's first marginal ``pi_0``."""
        d = self.dim
        return self.mass, self.plan_mean[:d], self.plan_cov[:d, :d]

    @property
    def target_marginal(self) -> tuple[float, np.ndarray, np.ndarray]:
        """``(mass, mean [D], cov [D, D])`` of the plan's second marginal ``pi_1``."""
        d = self.dim
        return self.mass, self.plan_mean[d:], self.plan_cov[d:, d:]

    @property
    def cross_cov(self) -> np.ndarray:
        """``Cov(x, y)`` under the normalised plan, ``[D, D]``."""
        d = self.dim
        return self.plan_cov[:d, d:]

    def target_potential(self, y: Any) -> np.ndarray:
        """The Sinkhorn potential ``g(y)`` for ``y [n, D]``, ``[n]`` (a quadratic)."""
        g = self._potentials[1]
        points = np.asarray(y, dtype=np.float64)
        return -0.5 * np.einsum("ni,ij,nj->n", points, g.prec, points) + points @ g.lin + g.const

    def target_density_ratio(self, y: Any) -> np.ndarray:
        """``d pi_1 / d beta (y)`` for ``y [n, D]``, ``[n]``: ``exp(-g(y) / tau2)`` (1 for a hard target)."""
        if self.tau_target is None:
            return np.ones(len(np.asarray(y)))
        return np.exp(-self.target_potential(y) / self.tau_target)


def _zero(n: int) -> _Quadratic:
    return _Quadratic(np.zeros((n, n)), np.zeros(n), 0.0)
