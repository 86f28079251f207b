"""Closed-form ground truth between Gaussians: balanced entropic OT, its Schrodinger bridge, the Brenier map.

Convention (docs/math.md): ``EOT_eps(P, Q) = min_pi E_pi[1/2 |x - y|^2] + eps KL(pi || P x Q)``. This is Janati et
al. 2020 ("Entropic optimal transport between unbalanced Gaussian measures has a closed form", NeurIPS) with
``sigma^2 = eps``, and POT's ``ot.sinkhorn(a, b, ot.dist(x, y), reg)`` with ``reg = 2 eps``.

Everything is numpy float64. Inputs may be array-likes or torch tensors; randomness comes only from an
explicit ``np.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from neurot._validation import check_int, check_probability
from neurot.benchmarks.metrics import (
    _as_array,
    _as_positive_float,
    _check_symmetric,
    _sqrtm_psd,
    _symmetrise,
)

__all__ = ["GaussianEOT", "brenier_map", "brenier_map_matrix", "gaussian_benchmark_pair", "random_gaussian"]

#: Smallest allowed ratio of the smallest to the largest eigenvalue of a covariance.
_MIN_EIGEN_RATIO = 1e-12


def _check_mean(name: str, value: Any, dim: int | None = None, dim_from: str = "") -> np.ndarray:
    """Validate a finite mean ``[D]`` (with ``D == dim``, taken from ``dim_from``, when given)."""
    mean = _as_array(name, value, "[D]", ndim=1)
    if dim is not None and mean.shape[0] != dim:
        raise ValueError(f"{name} must have shape [D] = {[dim]} (D from {dim_from}), "
                         f"got shape {list(mean.shape)}")
    return mean


def _check_spd(name: str, value: Any, dim: int | None = None, dim_from: str = "") -> np.ndarray:
    """Validate a symmetric positive definite ``[D, D]`` matrix (``D == dim`` if given), symmetrised."""
    cov = _as_array(name, value, "[D, D]", ndim=2)
    expected = (dim, dim) if dim is not None else (cov.shape[0], cov.shape[0])
    if cov.shape != expected:
        origin = f" (D from {dim_from})" if dim_from else ""
        raise ValueError(f"{name} must have shape [D, D] = {list(expected)}{origin}, "
                         f"got shape {list(cov.shape)}")
    _check_symmetric(name, cov)
    cov = _symmetrise(cov)
    eigenvalues = np.linalg.eigvalsh(cov)
    if eigenvalues[0] <= _MIN_EIGEN_RATIO * max(eigenvalues[-1], 0.0):
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {eigenvalues[0]:.3g} "
                         f"and largest {eigenvalues[-1]:.3g}")
    return cov


def validate_gaussian_pair(problem: Any) -> None:
    """Validate and freeze the fields of a frozen dataclass describing a Gaussian pair.

    Fields ``source_mean``, ``source_cov``, ``target_mean``, ``target_cov`` become read-only float64 arrays of
    consistent shapes with SPD covariances; ``eps`` a float > 0.
    """
    source_mean = _check_mean("source_mean", problem.source_mean)
    dim = source_mean.shape[0]
    fields = {
        "source_mean": source_mean,
        "source_cov": _check_spd("source_cov", problem.source_cov, dim, "source_mean"),
        "target_mean": _check_mean("target_mean", problem.target_mean, dim, "source_mean"),
        "target_cov": _check_spd("target_cov", problem.target_cov, dim, "source_mean"),
    }
    for name, value in fields.items():
        object.__setattr__(problem, name, _frozen(np.array(value, dtype=np.float64)))
    object.__setattr__(problem, "eps", _as_positive_float("eps", problem.eps))


def _check_rng(rng: Any) -> np.random.Generator:
    """Require an explicit ``np.random.Generator`` (no global random state)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng


def _spd_roots(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(S^{1/2}, S^{-1/2})`` of a symmetric positive definite ``[D, D]`` matrix (one eigh)."""
    values, vectors = np.linalg.eigh(cov)
    root = (vectors * np.sqrt(values)) @ vectors.T
    inv_root = (vectors / np.sqrt(values)) @ vectors.T
    return _symmetrise(root), _symmetrise(inv_root)


def _frozen(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only (it belongs to a frozen object) and return it."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class GaussianEOT:
    """Exact entropic OT plan between ``P = N(a, A)`` and ``Q = N(b, B)`` (Janati et al. 2020, sigma^2 = eps).

    For the cost ``1/2 |x - y|^2`` and regularisation ``eps KL(pi || P x Q)`` the optimal plan is the Gaussian
    ``N((a, b), [[A, C], [C^T, B]])`` with

        D = (4 A^{1/2} B A^{1/2} + eps^2 I)^{1/2},      C = Cov(x, y) = 1/2 (A^{1/2} D A^{-1/2} - eps I)
        pi*(y | x) = N(b + C^T A^{-1} (x - a),  B - C^T A^{-1} C).

    The off-diagonal block of the joint precision is ``-I / eps``. ``eps -> 0`` gives the Brenier map
    (:func:`brenier_map`), ``eps -> infinity`` independence (``C -> 0``).

    Numerics: with ``M = A^{1/2} B A^{1/2} = U diag(m) U^T``, ``D - eps I = U diag(4 m / (sqrt(4 m + eps^2) +
    eps)) U^T`` has no cancellation at large ``eps``; ``K = A^{-1} C = C^T A^{-1}`` is symmetric and the
    conditional covariance equals ``eps K`` (equivalent to ``B - C^T A^{-1} C``, without cancellation as
    ``eps -> 0``).

    Attributes:
        source_mean: ``a``, ``[D]``.
        source_cov: ``A``, ``[D, D]``, symmetric positive definite.
        target_mean: ``b``, ``[D]``.
        target_cov: ``B``, ``[D, D]``, symmetric positive definite.
        eps: entropic regularisation, finite and > 0.

    """

    source_mean: np.ndarray
    source_cov: np.ndarray
    target_mean: np.ndarray
    target_cov: np.ndarray
    eps: float

    def __post_init__(self) -> None:
        validate_gaussian_pair(self)

    @property
    def dim(self) -> int:
        """The dimension ``D`` of each marginal."""
        return int(self.source_mean.shape[0])

    @cached_property
    def _source_roots(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A^{1/2}, A^{-1/2})``."""
        return _spd_roots(self.source_cov)

    @cached_property
    def _gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues ``[D]`` and eigenvectors ``[D, D]`` of ``D - eps I``.

        ``D - eps I = 4 M ((4 M + eps^2 I)^{1/2} + eps I)^{-1}`` with ``M = A^{1/2} B A^{1/2}``.
        """
        root, _ = self._source_roots
        values, vectors = np.linalg.eigh(_symmetrise(root @ self.target_cov @ root))
        values = np.clip(values, 0.0, None)
        return 4.0 * values / (np.sqrt(4.0 * values + self.eps**2) + self.eps), vectors

    @cached_property
    def _d_minus_eps(self) -> np.ndarray:
        """``D - eps I``, ``[D, D]`` (see :attr:`_gaps`)."""
        gaps, vectors = self._gaps
        return _symmetrise((vectors * gaps) @ vectors.T)

    @cached_property
    def _gain(self) -> np.ndarray:
        """``K = A^{-1} C = C^T A^{-1} = 1/2 A^{-1/2} (D - eps I) A^{-1/2}``, symmetric ``[D, D]``."""
        _, inv_root = self._source_roots
        return _frozen(_symmetrise(0.5 * inv_root @ self._d_minus_eps @ inv_root))

    @cached_property
    def cross_cov(self) -> np.ndarray:
        """``C = Cov(x, y) = 1/2 (A^{1/2} D A^{-1/2} - eps I)`` under the plan, ``[D, D]`` (not symmetric)."""
        root, inv_root = self._source_roots
        return _frozen(0.5 * root @ self._d_minus_eps @ inv_root)

    @cached_property
    def conditional_cov(self) -> np.ndarray:
        """``Cov(y | x) = B - C^T A^{-1} C = eps A^{-1} C``, ``[D, D]`` (the same for every ``x``)."""
        return _frozen(self.eps * self._gain)

    @cached_property
    def potential_hessian(self) -> np.ndarray:
        """``H = I - K^{-1} = I - eps Cov(y | x)^{-1}``, ``[D, D]``: the Hessian of the target potential ``f``.

        ``f`` is EgNOT's potential, ``pi*(y | x) ∝ exp((f(y) - 1/2 |x - y|^2) / eps)``; it is the quadratic
        ``f(y) = 1/2 (y - b)^T H (y - b) + (b - a)^T (y - b)`` up to a constant. ``H < I``: the conditionals are
        confined in every direction. ``K^{-1} = 2 A^{1/2} (D - eps I)^{-1} A^{1/2}``, from the eigenvalues of
        ``D - eps I`` (no inverse of a computed matrix).
        """
        root, _ = self._source_roots
        gaps, vectors = self._gaps
        inverse_gain = 2.0 * root @ ((vectors / gaps) @ vectors.T) @ root
        return _frozen(_symmetrise(np.eye(self.dim) - inverse_gain))

    @cached_property
    def plan_mean(self) -> np.ndarray:
        """Mean ``(a, b)`` of the joint plan over ``(x, y)``, ``[2D]``."""
        return _frozen(np.concatenate([self.source_mean, self.target_mean]))

    @cached_property
    def plan_cov(self) -> np.ndarray:
        """Covariance ``[[A, C], [C^T, B]]`` of the joint plan over ``(x, y)``, ``[2D, 2D]``."""
        cov = np.block([[self.source_cov, self.cross_cov], [self.cross_cov.T, self.target_cov]])
        return _frozen(_symmetrise(cov))

    def conditional_mean(self, x: Any) -> np.ndarray:
        """``E[y | x] = b + C^T A^{-1} (x - a)`` for ``x [n, D]``, returned ``[n, D]``."""
        points = self._check_points("x", x)
        return self.target_mean + (points - self.source_mean) @ self._gain

    def bridge_marginal(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``[D]`` and covariance ``[D, D]`` of the Schrodinger bridge at time ``t`` in ``[0, 1]``.

        Paths are Brownian bridges (variance ``eps`` per unit time) over the plan:
        ``X_t = (1 - t) x + t y + sqrt(eps t (1 - t)) Z``, so ``mean = (1 - t) a + t b`` and
        ``cov = (1 - t)^2 A + t^2 B + t (1 - t) (C + C^T) + eps t (1 - t) I``.
        """
        check_probability("t", t)
        s = 1.0 - t
        mean = s * self.source_mean + t * self.target_mean
        cov = (s**2 * self.source_cov + t**2 * self.target_cov + t * s * (self.cross_cov + self.cross_cov.T)
               + self.eps * t * s * np.eye(self.dim))
        return mean, _symmetrise(cov)

    def sample_source(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws ``[n, D]`` from ``P = N(a, A)``."""
        return self._sample_gaussian(self.source_mean, self._source_roots[0], n, rng)

    def sample_target(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws ``[n, D]`` from ``Q = N(b, B)``."""
        return self._sample_gaussian(self.target_mean, self._target_root, n, rng)

    def sample_plan(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs from the plan: ``x ~ P`` ``[n, D]`` and ``y ~ pi*(. | x)`` ``[n, D]``."""
        x = self.sample_source(n, rng)
        return x, self.sample_conditional(x, 1, rng)[:, 0]

    def sample_conditional(self, x: Any, n_per_x: int, rng: np.random.Generator) -> np.ndarray:
        """``n_per_x`` draws from ``pi*(. | x_i)`` for each row of ``x [n, D]``: ``[n, n_per_x, D]``."""
        check_int("n_per_x", n_per_x)
        means = self.conditional_mean(x)
        noise = _check_rng(rng).standard_normal((means.shape[0], n_per_x, self.dim))
        return means[:, None, :] + noise @ self._conditional_root

    @cached_property
    def _target_root(self) -> np.ndarray:
        return _frozen(_spd_roots(self.target_cov)[0])

    @cached_property
    def _conditional_root(self) -> np.ndarray:
        return _frozen(_sqrtm_psd(self.conditional_cov))

    def _sample_gaussian(self, mean: np.ndarray, root: np.ndarray, n: int,
                         rng: np.random.Generator) -> np.ndarray:
        check_int("n", n)
        return mean + _check_rng(rng).standard_normal((n, self.dim)) @ root

    def _check_points(self, name: str, value: Any) -> np.ndarray:
        points = _as_array(name, value, "[n, D]", ndim=2)
        if points.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape [n, D] with D = {self.dim}, "
                             f"got shape {list(points.shape)}")
        return points


def brenier_map_matrix(source_cov: Any, target_cov: Any) -> np.ndarray:
    """``T = A^{-1/2} (A^{1/2} B A^{1/2})^{1/2} A^{-1/2}``, symmetric positive definite ``[D, D]``.

    The unique symmetric PD matrix with ``T A T = B``: ``x -> b + T (x - a)`` is the OT (Brenier) map from
    ``N(a, A)`` to ``N(b, B)`` for the quadratic cost.
    """
    cov_a = _check_spd("source_cov", source_cov)
    cov_b = _check_spd("target_cov", target_cov, cov_a.shape[0], "source_cov")
    root, inv_root = _spd_roots(cov_a)
    middle = _sqrtm_psd(root @ cov_b @ root)
    return _symmetrise(inv_root @ middle @ inv_root)


def brenier_map(x: Any, source_mean: Any, source_cov: Any, target_mean: Any, target_cov: Any) -> np.ndarray:
    """Apply the Brenier map ``T(x) = b + A^{-1/2} (A^{1/2} B A^{1/2})^{1/2} A^{-1/2} (x - a)`` to ``x``.

    ``x [n, D]`` gives ``[n, D]``; :func:`brenier_map_matrix` is the linear part.
    """
    matrix = brenier_map_matrix(source_cov, target_cov)
    dim = matrix.shape[0]
    a = _check_mean("source_mean", source_mean, dim, "source_cov")
    b = _check_mean("target_mean", target_mean, dim, "source_cov")
    points = _as_array("x", x, "[n, D]", ndim=2)
    if points.shape[1] != dim:
        raise ValueError(f"x must have shape [n, D] with D = {dim} (from source_cov), "
                         f"got shape {list(points.shape)}")
    return b + (points - a) @ matrix


def displacement_interpolation(t: float, source_mean: Any, source_cov: Any, target_mean: Any,
                               target_cov: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` of McCann's interpolation at ``t`` in ``[0, 1]`` (the ``eps = 0`` path).

    ``X_t = (1 - t) X_0 + t T(X_0)`` with ``T`` the Brenier map (:func:`brenier_map_matrix`): Gaussian with mean
    ``(1 - t) a + t b`` and covariance ``M_t A M_t``, ``M_t = (1 - t) I + t T``: the marginal at ``t`` of the
    dynamic (Benamou-Brenier) OT path, which OT flow learns.
    """
    check_probability("t", t)
    matrix = brenier_map_matrix(source_cov, target_cov)
    dim = matrix.shape[0]
    a = _check_mean("source_mean", source_mean, dim, "source_cov")
    b = _check_mean("target_mean", target_mean, dim, "source_cov")
    blend = (1 - t) * np.eye(dim) + t * matrix
    return (1 - t) * a + t * b, _symmetrise(blend @ _check_spd("source_cov", source_cov) @ blend)


def _random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a Haar-distributed rotation in ``SO(dim)``, ``[D, D]``: QR of a Gaussian matrix, signs fixed."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_gaussian(dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw a Gaussian by the EgNOT paper's protocol: mean zeros ``[D]``, covariance ``W W^T`` ``[D, D]``.

    ``W = Q diag(exp(linspace(log 0.5, log 2, D)))`` with ``Q`` a random rotation, so the covariance has
    eigenvalues from 0.25 to 4 in a random basis (for ``D = 1``: ``Q = [[1]]`` and covariance ``[[0.25]]``).
    """
    check_int("dim", dim)
    rng = _check_rng(rng)
    scales = np.exp(np.linspace(np.log(0.5), np.log(2.0), dim))
    rotation = _random_rotation(dim, rng)
    return np.zeros(dim), _symmetrise((rotation * scales**2) @ rotation.T)


def gaussian_benchmark_pair(dim: int, eps: float, seed: int) -> GaussianEOT:
    """Build the Gaussian benchmark problem: the exact EOT plan at ``eps`` between two random Gaussians.

    Source, then target, come from :func:`random_gaussian` with one generator ``np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    source_mean, source_cov = random_gaussian(dim, rng)
    target_mean, target_cov = random_gaussian(dim, rng)
    return GaussianEOT(source_mean, source_cov, target_mean, target_cov, eps)
