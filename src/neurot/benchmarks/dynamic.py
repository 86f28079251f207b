"""Ground truth for dynamic OT and density-ratio estimation (docs/math.md sections 3 and 6).

- :func:`gaussian_log_density_ratio`: exact ``log q(x) - log p(x)`` between two Gaussians.
- :func:`gaussian_ot_cost`: the OT cost ``1/2 W2^2`` between Gaussians (our ``1/2 |x - y|^2`` convention); the
  kinetic energy ``integral_0^1 E |v|^2 dt`` of the optimal flow on ``[0, 1]`` is ``W2^2``, twice this.
- :func:`gaussian_mutual_information`: mutual information of a jointly Gaussian pair from its covariance.
- :class:`GaussianMIProblem`: ``D / 2`` correlated pairs, a mutual-information problem with its exact answer.
- :func:`discrete_ot_cost`: exact OT cost ``min_pi E_pi[1/2 |x - y|^2]`` between two point clouds (POT).
- :func:`l2_uvp`: map error in percent of the target variance, ``100 E |T(x) - T*(x)|^2 / Var(Q)``.

numpy float64 throughout; inputs may be array-likes or torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurot._validation import check_int
from neurot.benchmarks.gaussian import _check_mean, _check_spd
from neurot.benchmarks.metrics import _as_array, _as_positive_float, bw2_squared

__all__ = ["GaussianMIProblem", "discrete_ot_cost", "gaussian_log_density_ratio", "gaussian_mutual_information",
           "gaussian_ot_cost", "l2_uvp"]


def _gaussian_log_density(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``log N(x; mean, cov)`` for ``x [n, D]``: ``[n]`` (Cholesky)."""
    factor = np.linalg.cholesky(cov)
    z = np.linalg.solve(factor, (x - mean).T)
    log_det = 2.0 * np.log(np.diag(factor)).sum()
    return -0.5 * (np.square(z).sum(0) + log_det + mean.shape[0] * np.log(2.0 * np.pi))


def gaussian_log_density_ratio(x: Any, source_mean: Any, source_cov: Any, target_mean: Any,
                               target_cov: Any) -> np.ndarray:
    """``log N(x; b, B) - log N(x; a, A)`` for ``x [n, D]`` (``P = N(a, A)``, ``Q = N(b, B)``): ``[n]``."""
    a = _check_mean("source_mean", source_mean)
    dim = a.shape[0]
    cov_a = _check_spd("source_cov", source_cov, dim, "source_mean")
    b = _check_mean("target_mean", target_mean, dim, "source_mean")
    cov_b = _check_spd("target_cov", target_cov, dim, "source_mean")
    points = _as_array("x", x, "[n, D]", ndim=2)
    if points.shape[1] != dim:
        raise ValueError(f"x must have shape [n, D] with D = {dim} (from source_mean), got shape {list(points.shape)}")
    return _gaussian_log_density(points, b, cov_b) - _gaussian_log_density(points, a, cov_a)


def gaussian_ot_cost(source_mean: Any, source_cov: Any, target_mean: Any, target_cov: Any) -> float:
    """OT cost ``min_pi E_pi[1/2 |x - y|^2] = 1/2 W2^2`` between ``N(a, A)`` and ``N(b, B)``.

    ``W2^2 = |a - b|^2 + tr A + tr B - 2 tr (A^{1/2} B A^{1/2})^{1/2}`` (:func:`~neurot.benchmarks.bw2_squared`),
    attained by the Brenier map :func:`~neurot.benchmarks.brenier_map`.
    """
    return 0.5 * bw2_squared(source_mean, source_cov, target_mean, target_cov)


def gaussian_mutual_information(cov: Any, dim_x: int) -> float:
    """Mutual information ``I(X; Y)`` (nats) of ``(X, Y) ~ N(m, cov)``, ``X`` the first ``dim_x`` coordinates.

    ``I = 1/2 (log det S_XX + log det S_YY - log det S)``. For standardised blocks with cross-covariance ``R``
    this is ``-1/2 log det(I - R R^T)``; for ``d`` independent pairs of correlation ``rho``, ``-d/2 log(1 - rho^2)``.
    """
    matrix = _check_spd("cov", cov)
    check_int("dim_x", dim_x)
    if dim_x >= matrix.shape[0]:
        raise ValueError(f"dim_x must be < the dimension {matrix.shape[0]} of cov, got {dim_x}")
    log_det = np.linalg.slogdet
    whole = log_det(matrix)[1]
    return float(0.5 * (log_det(matrix[:dim_x, :dim_x])[1] + log_det(matrix[dim_x:, dim_x:])[1] - whole))


@dataclass(frozen=True)
class GaussianMIProblem:
    """``D / 2`` independent pairs of correlation ``rho``, a mutual-information problem with its exact answer.

    ``P = N(0, Sigma)`` on ``R^D`` with ``Sigma`` block-diagonal, blocks ``[[1, rho], [rho, 1]]`` (coordinates
    ``2k, 2k + 1``); ``X`` the even coordinates, ``Y`` the odd ones.

    The product of the marginals is ``Q = N(0, I)``, so ``I(X; Y) = KL(P || Q) = 1/2 (tr Sigma - D - log det Sigma)
    = -1/2 log det Sigma = -(D / 4) log(1 - rho^2)`` nats (the paper's Gaussian MI experiment, rho = 0.8).
    """

    dim: int
    rho: float = 0.8

    def __post_init__(self) -> None:
        check_int("dim", self.dim, minimum=2)
        if self.dim % 2:
            raise ValueError(f"dim must be even (pairs of coordinates), got {self.dim}")
        if isinstance(self.rho, bool) or not isinstance(self.rho, (int, float)) or not -1 < self.rho < 1:
            raise ValueError(f"rho must be a number in (-1, 1), got {self.rho!r}")

    @property
    def cov(self) -> np.ndarray:
        """``Sigma [D, D]``, block-diagonal with ``D / 2`` blocks ``[[1, rho], [rho, 1]]``."""
        return np.kron(np.eye(self.dim // 2), np.array([[1.0, self.rho], [self.rho, 1.0]]))

    @property
    def mutual_information(self) -> float:
        """``I(X; Y) = -1/2 log det Sigma`` in nats."""
        return float(-0.5 * np.linalg.slogdet(self.cov)[1])

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of ``(X, Y)``: ``x [n, D / 2]``, ``y [n, D / 2]``, row ``i`` one draw (correlated in pairs)."""
        check_int("n", n)
        half = self.dim // 2
        x = rng.standard_normal((n, half))
        y = self.rho * x + np.sqrt(1.0 - self.rho**2) * rng.standard_normal((n, half))
        return x, y

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        """Exact ``log q - log p`` at the pairs ``x [n, D / 2]``, ``y [n, D / 2]``: ``[n]`` (``q`` the product).

        Densities of ``[x, y]`` and of the interleaved ``(x_1, y_1, x_2, ...)`` agree (a permutation of
        coordinates), so this is also the ratio at ``np.hstack([x, y])``, the layout of
        :func:`neurot.mutual_information`.
        """
        first = _as_array("x", x, "[n, D / 2]", ndim=2)
        second = _as_array("y", y, "[n, D / 2]", ndim=2)
        if first.shape != second.shape or first.shape[1] != self.dim // 2:
            raise ValueError(f"x and y must both have shape [n, {self.dim // 2}], got {list(first.shape)} and "
                             f"{list(second.shape)}")
        pairs = np.stack([first, second], axis=2).reshape(len(first), self.dim)
        zero = np.zeros(self.dim)
        return gaussian_log_density_ratio(pairs, zero, self.cov, zero, np.eye(self.dim))


def discrete_ot_cost(x: Any, y: Any, x_weights: Any = None, y_weights: Any = None) -> float:
    """Exact OT cost ``min_pi sum_ij pi_ij 1/2 |x_i - y_j|^2`` between weighted point clouds (POT's network simplex).

    ``x [n, D]``, ``y [m, D]``; weights ``[n]``, ``[m]`` (default uniform; normalised to 1). POT's ``ot.dist`` is
    the squared distance without the 1/2, halved here. Needs POT (``pip install 'neurot[pot]'``).
    """
    try:
        import ot
    except ImportError as error:
        raise ImportError("discrete_ot_cost needs POT: pip install 'neurot[pot]'") from error
    source = _as_array("x", x, "[n, D]", ndim=2)
    target = _as_array("y", y, "[m, D]", ndim=2)
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"x and y must have the same dimension D, got shapes {list(source.shape)} "
                         f"and {list(target.shape)}")
    weights = []
    for name, value, n in (("x_weights", x_weights, len(source)), ("y_weights", y_weights, len(target))):
        w = np.full(n, 1.0 / n) if value is None else _as_array(name, value, f"[{n}]", ndim=1)
        if w.shape[0] != n or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"{name} must be {n} non-negative numbers with a positive sum")
        weights.append(w / w.sum())
    return 0.5 * float(ot.emd2(weights[0], weights[1], ot.dist(source, target), numItermax=10_000_000))


def l2_uvp(mapped: Any, reference: Any, target_variance: Any) -> float:
    """``100 * mean_i |T(x_i) - T*(x_i)|^2 / Var(Q)``: map error in percent of the target's total variance.

    ``mapped``, ``reference``: ``[n, D]`` (the learned and the true map at the same points); ``target_variance``:
    ``tr Cov(Q)`` (> 0). Predicting the target mean for every x scores 100 % when ``T*`` pushes to ``Q``.
    """
    learned = _as_array("mapped", mapped, "[n, D]", ndim=2)
    truth = _as_array("reference", reference, "[n, D]", ndim=2)
    if learned.shape != truth.shape:
        raise ValueError(f"mapped and reference must have the same shape, got {list(learned.shape)} "
                         f"and {list(truth.shape)}")
    variance = _as_positive_float("target_variance", target_variance)
    return float(100.0 * np.square(learned - truth).sum(1).mean() / variance)
