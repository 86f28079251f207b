"""Ground truth for dynamic OT and density-ratio estimation (docs/math.md sections 3 and 6).

- :func:`gaussian_log_density_ratio`: exact ``log q(x) - log p(x)`` between two Gaussians.
- :func:`gaussian_ot_cost`: the OT cost ``1/2 W2^2`` between Gaussians (our ``1/2 |x - y|^2`` convention); the
  kinetic energy ``integral_0^1 E |v|^2 dt`` of the optimal flow on ``[0, 1]`` is ``W2^2``, twice this.
- :func:`gaussian_mutual_information`: mutual information of a jointly Gaussian pair from its covariance.
- :func:`discrete_ot_cost`: exact OT cost ``min_pi E_pi[1/2 |x - y|^2]`` between two point clouds (POT).
- :func:`l2_uvp`: map error in percent of the target variance, ``100 E |T(x) - T*(x)|^2 / Var(Q)``.

numpy float64 throughout; inputs may be array-likes or torch tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurot._validation import check_int
from neurot.benchmarks.gaussian import _check_mean, _check_spd
from neurot.benchmarks.metrics import _as_array, _as_positive_float, bw2_squared

__all__ = ["discrete_ot_cost", "gaussian_log_density_ratio", "gaussian_mutual_information", "gaussian_ot_cost",
           "l2_uvp"]


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
