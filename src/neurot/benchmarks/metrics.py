"""Sample-based accuracy metrics against Gaussian ground truth (docs/math.md section 4).

Everything is computed in numpy float64; inputs may be numpy arrays, array-likes or torch tensors
(detached and copied to the CPU). Every Monte-Carlo metric has a floor: an exact sampler scores above zero
because sample moments fluctuate, so report the floor beside each number.

- :func:`bw2_squared`: squared Bures-Wasserstein distance between two Gaussians.
- :func:`bw2_uvp`: BW2-UVP of a sample against a Gaussian, in percent of the true total variance.
- :func:`cbw2_uvp`: conditional BW2-UVP averaged over many conditioning inputs (batched).
- :func:`energy_distance`: energy distance between two samples (V-statistic, chunked).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from scipy.spatial.distance import cdist

from neurot._validation import check_int

T = TypeVar("T")

__all__ = ["bw2_squared", "bw2_uvp", "cbw2_uvp", "energy_distance"]


def _as_array(name: str, value: Any, shape: str, ndim: int | None = None) -> np.ndarray:
    """Convert an array-like or torch tensor to a finite float64 array.

    ``shape`` is the expected shape as written in error messages (e.g. ``"[n, D]"``) and ``ndim`` the
    expected number of axes (unchecked when None). Raises ``ValueError`` naming ``name`` for non-numeric
    input, the wrong number of axes, an empty axis, or NaN/Inf entries.
    """
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        message = f"{name} must be a real array of shape {shape}, got {type(value).__name__}"
        raise ValueError(message) from error
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape} ({ndim} axes), got shape {list(array.shape)}")
    if 0 in array.shape:
        raise ValueError(f"{name} must have shape {shape} with no empty axis, got shape {list(array.shape)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return array


def _as_positive_float(name: str, value: Any) -> float:
    """Convert a number (Python, numpy or 0-d tensor) to float; ``ValueError`` unless finite and > 0."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from error
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _symmetrise(matrix: np.ndarray) -> np.ndarray:
    """``(M + M^T) / 2`` over the last two axes."""
    return 0.5 * (matrix + np.swapaxes(matrix, -1, -2))


def _check_symmetric(name: str, matrix: np.ndarray) -> None:
    """Raise ``ValueError`` unless the ``[..., D, D]`` array is symmetric up to round-off."""
    scale = max(1.0, float(np.abs(matrix).max()))
    if not np.allclose(matrix, np.swapaxes(matrix, -1, -2), rtol=1e-7, atol=1e-9 * scale):
        raise ValueError(f"{name} must be symmetric")


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of symmetric PSD matrices ``[..., D, D]`` by eigen-decomposition.

    The input is symmetrised first and negative eigenvalues (round-off) are clipped to zero.
    """
    values, vectors = np.linalg.eigh(_symmetrise(matrix))
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    return _symmetrise(root)


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """Factor symmetric PSD ``S [..., D, D]`` as ``F F^T = S``.

    Cholesky when every matrix is positive definite (cheap), else the symmetric square root.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return _sqrtm_psd(cov)


def _trace_sqrt_product(factor1: np.ndarray, cov2: np.ndarray) -> np.ndarray:
    """``tr (S1^{1/2} S2 S1^{1/2})^{1/2}`` from a factor ``F F^T = S1`` and ``S2``, both ``[..., D, D]``.

    ``F^T S2 F`` is symmetric PSD and similar to ``S2 S1``, so it has the same eigenvalues as
    ``S1^{1/2} S2 S1^{1/2}``: the trace of the square root is the sum of their square roots.
    """
    middle = _symmetrise(np.swapaxes(factor1, -1, -2) @ cov2 @ factor1)
    return np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum(-1)


def _bw2_squared_batch(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray,
                       factor1: np.ndarray | None = None) -> np.ndarray:
    """BW2^2 of ``[..., D]`` means and ``[..., D, D]`` covariances (broadcast); ``factor1 F^T = S1``."""
    if factor1 is None:
        factor1 = _psd_factor(cov1)
    value = (np.square(mean1 - mean2).sum(-1) + np.trace(cov1, axis1=-2, axis2=-1)
             + np.trace(cov2, axis1=-2, axis2=-1) - 2.0 * _trace_sqrt_product(factor1, cov2))
    return np.clip(value, 0.0, None)


def _sample_moments(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[..., D]`` and unbiased (ddof = 1) covariance ``[..., D, D]`` of ``samples [..., k, D]``."""
    mean = samples.mean(-2)
    centred = samples - mean[..., None, :]
    cov = np.swapaxes(centred, -1, -2) @ centred / (samples.shape[-2] - 1)
    return mean, _symmetrise(cov)


def _check_gaussian(mean_name: str, cov_name: str, mean: Any, cov: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``mean [D]`` and ``cov [D, D]`` (symmetric up to round-off); return them, cov symmetrised."""
    mean_arr = _as_array(mean_name, mean, "[D]", ndim=1)
    cov_arr = _as_array(cov_name, cov, "[D, D]", ndim=2)
    dim = mean_arr.shape[0]
    if cov_arr.shape != (dim, dim):
        raise ValueError(f"{cov_name} must have shape [D, D] = {[dim, dim]} (D from {mean_name}), "
                         f"got shape {list(cov_arr.shape)}")
    _check_symmetric(cov_name, cov_arr)
    return mean_arr, _symmetrise(cov_arr)


def bw2_squared(mean1: Any, cov1: Any, mean2: Any, cov2: Any) -> float:
    """Squared Bures-Wasserstein (W2) distance between ``N(m1, S1)`` and ``N(m2, S2)``.

    ``BW2^2 = |m1 - m2|^2 + tr S1 + tr S2 - 2 tr (S1^{1/2} S2 S1^{1/2})^{1/2}``, with means ``[D]`` and
    symmetric PSD covariances ``[D, D]``. Tiny negative values from round-off are clipped to 0.
    """
    m1, s1 = _check_gaussian("mean1", "cov1", mean1, cov1)
    m2, s2 = _check_gaussian("mean2", "cov2", mean2, cov2)
    if m1.shape != m2.shape:
        raise ValueError(f"mean2 must have shape [D] = {list(m1.shape)} (D from mean1), "
                         f"got shape {list(m2.shape)}")
    return float(_bw2_squared_batch(m1, s1, m2, s2))


def bw2_uvp(samples: Any, true_mean: Any, true_cov: Any) -> float:
    """BW2-UVP (unexplained variance percentage) of ``samples [n, D]`` against ``N(true_mean, true_cov)``.

    ``BW2-UVP = 100 * BW2^2(N(m_hat, S_hat), N(m, S)) / tr S`` in percent, with ``m_hat`` the sample mean and
    ``S_hat`` the unbiased (ddof = 1) sample covariance; ``n >= 2``, ``true_mean [D]``, ``true_cov [D, D]``
    symmetric PSD with a positive trace. The EgNOT paper reports it on the joint plan ``(x, y)`` in ``R^{2D}``
    and on the target marginal. Exact samples score above zero by an amount that shrinks like ``1 / n``.
    """
    points = _as_array("samples", samples, "[n, D]", ndim=2)
    mean, cov = _check_gaussian("true_mean", "true_cov", true_mean, true_cov)
    if points.shape[1] != mean.shape[0]:
        raise ValueError(f"samples must have shape [n, D] with D = {mean.shape[0]} (from true_mean), "
                         f"got shape {list(points.shape)}")
    if points.shape[0] < 2:
        raise ValueError(f"samples must have shape [n, D] with n >= 2, got shape {list(points.shape)}")
    total_var = float(np.trace(cov))
    if total_var <= 0:
        raise ValueError(f"true_cov must have a positive trace, got {total_var}")
    sample_mean, sample_cov = _sample_moments(points)
    return float(100.0 * _bw2_squared_batch(sample_mean, sample_cov, mean, cov) / total_var)


def _check_conditional_truth(true_means: Any, true_covs: Any, n: int,
                             dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``true_means [n, D]`` and ``true_covs [n, D, D]`` or ``[D, D]`` for :func:`cbw2_uvp`."""
    means = _as_array("true_means", true_means, "[n, D]", ndim=2)
    if means.shape != (n, dim):
        raise ValueError(f"true_means must have shape [n, D] = {[n, dim]} (from samples), "
                         f"got shape {list(means.shape)}")
    covs = _as_array("true_covs", true_covs, "[n, D, D] or [D, D]")
    if covs.shape not in ((n, dim, dim), (dim, dim)):
        raise ValueError(f"true_covs must have shape [n, D, D] = {[n, dim, dim]} or [D, D] = {[dim, dim]} "
                         f"(from samples), got shape {list(covs.shape)}")
    _check_symmetric("true_covs", covs)
    return means, _symmetrise(covs)


def cbw2_uvp(samples: Any, true_means: Any, true_covs: Any, target_var: float, *,
             chunk_size: int = 64) -> float:
    """Conditional BW2-UVP in percent: how well ``samples[i]`` reproduces the exact ``pi*(. | x_i)``.

    ``cBW2-UVP = 100 * mean_i BW2^2(N(m_hat_i, S_hat_i), N(m_i, S_i)) / Var(Q)``, where ``samples [n, k, D]``
    holds ``k >= 2`` model samples for each of ``n`` inputs, ``m_hat_i`` and ``S_hat_i`` are their mean and
    unbiased (ddof = 1) covariance, ``true_means [n, D]`` and ``true_covs [n, D, D]`` (or one shared
    ``[D, D]``, as for Gaussian plans) are the exact conditional moments, and ``target_var = Var(Q) > 0`` is
    the trace of the target covariance.

    The benchmark uses 1000 inputs and 1000 samples per input; its Monte-Carlo floor is then about 0.1 % at
    D = 16 and 1 % at D = 128. Predicting the exact conditional mean with no spread scores exactly
    ``100 * mean_i tr S_i / Var(Q)``. Inputs are processed ``chunk_size`` at a time with batched
    eigenvalue solvers; a shared truth covariance is factored once.
    """
    points = _as_array("samples", samples, "[n, k, D]", ndim=3)
    n, k, dim = points.shape
    if k < 2:
        raise ValueError(f"samples must have shape [n, k, D] with k >= 2 samples per input, "
                         f"got shape {list(points.shape)}")
    means, covs = _check_conditional_truth(true_means, true_covs, n, dim)
    target_var = _as_positive_float("target_var", target_var)
    check_int("chunk_size", chunk_size)
    shared_factor = _psd_factor(covs) if covs.ndim == 2 else None
    total = 0.0
    for start in range(0, n, chunk_size):
        block = slice(start, start + chunk_size)
        sample_mean, sample_cov = _sample_moments(points[block])
        true_cov = covs if shared_factor is not None else covs[block]
        # BW2 is symmetric in its arguments. The truth goes first: a shared covariance is factored once, and
        # a positive definite truth takes a Cholesky factor even when sample covariances are singular.
        values = _bw2_squared_batch(means[block], true_cov, sample_mean, sample_cov, factor1=shared_factor)
        total += float(values.sum())
    return 100.0 * total / (n * target_var)


def _mean_pairwise_distance(x: np.ndarray, y: np.ndarray, chunk_size: int) -> float:
    """``mean_{i, j} |x_i - y_j|`` for ``x [n, D]``, ``y [m, D]``, ``chunk_size`` rows of ``x`` at a time."""
    total = 0.0
    for start in range(0, x.shape[0], chunk_size):
        total += float(cdist(x[start:start + chunk_size], y).sum())
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x: Any, y: Any, *, chunk_size: int = 1024, unbiased: bool = False) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between samples ``x [n, D]`` and ``y [m, D]``.

    By default each expectation averages over all pairs, the diagonal ``i = j`` included (V-statistic), so the value
    is the energy distance between the two empirical distributions: >= 0 (tiny round-off negatives are clipped),
    exactly 0 for identical samples, and in one dimension the square of ``scipy.stats.energy_distance``.
    ``unbiased=True`` leaves the diagonal out of the within-sample terms (U-statistics, ``n >= 2``, ``m >= 2``):
    an unbiased estimate of the population value, about 0 (either sign) for two samples of one distribution.
    Distances are formed ``chunk_size`` rows at a time, so memory is ``O(chunk_size * max(n, m))``.
    """
    a = _as_array("x", x, "[n, D]", ndim=2)
    b = _as_array("y", y, "[m, D]", ndim=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"y must have shape [m, D] with D = {a.shape[1]} (from x), "
                         f"got shape {list(b.shape)}")
    check_int("chunk_size", chunk_size)
    if unbiased and min(len(a), len(b)) < 2:
        raise ValueError(f"unbiased=True needs at least 2 points in x and y, got {len(a)} and {len(b)}")
    within_a, within_b = _mean_pairwise_distance(a, a, chunk_size), _mean_pairwise_distance(b, b, chunk_size)
    if unbiased:
        within_a, within_b = within_a * len(a) / (len(a) - 1), within_b * len(b) / (len(b) - 1)
    value = 2.0 * _mean_pairwise_distance(a, b, chunk_size) - within_a - within_b
    return value if unbiased else max(value, 0.0)


def half_energy_distance(x: Any, y: Any) -> float:
    """``E|X - Y| - E|X - X'| / 2 - E|Y - Y'| / 2`` with unbiased within-sample terms: ``x [n, D]``, ``y [m, D]``.

    Half of ``energy_distance(x, y, unbiased=True)``: the convention of the single-cell trajectory benchmarks
    (LightSB's, and the published scores ``neurot bench single-cell`` prints beside ours).
    """
    return 0.5 * energy_distance(x, y, unbiased=True)


def two_sample_floor(points: Any, seed: int) -> float:
    """:func:`half_energy_distance` between two random halves of ``points [N, D]`` (``N >= 4``; ``seed`` picks them).

    What a perfect model scores against ``points``, up to noise: the floor beside held-out energy distances.
    """
    array = _as_array("points", points, "[N, D]", ndim=2)
    order = np.random.default_rng(seed).permutation(len(array))
    half = len(array) // 2
    return half_energy_distance(array[order[:half]], array[order[half:]])


def relative_rmse(estimate: Any, exact: Any) -> float:
    """``sqrt(mean (estimate - exact)^2) / sqrt(mean exact^2)`` over matching arrays (e.g. ``[n]`` log-ratios).

    0 for an exact estimate, 1 for the constant 0; ``exact`` must not be all zeros.
    """
    guess = _as_array("estimate", estimate, "[n]")
    truth = _as_array("exact", exact, "[n]")
    if guess.shape != truth.shape:
        raise ValueError(f"estimate and exact must have the same shape, got {list(guess.shape)} and "
                         f"{list(truth.shape)}")
    scale = np.sqrt(np.mean(np.square(truth)))
    if scale == 0:
        raise ValueError("exact is all zeros: the relative error is undefined")
    return float(np.sqrt(np.mean(np.square(guess - truth))) / scale)


def timed(call: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """``call()``'s result and its wall and CPU seconds as row entries ``fit_seconds`` and ``fit_cpu_seconds``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, {"fit_seconds": time.perf_counter() - wall, "fit_cpu_seconds": time.process_time() - cpu}
