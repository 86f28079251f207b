"""Tests of the accuracy metrics: closed forms, invariances, Monte-Carlo floors, validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from neurot.benchmarks.gaussian import gaussian_benchmark_pair, random_gaussian
from neurot.benchmarks.metrics import (
    bw2_squared,
    bw2_uvp,
    cbw2_uvp,
    energy_distance,
    half_energy_distance,
    relative_rmse,
)


def random_spd(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A generic (non-diagonal, well-conditioned) symmetric positive definite ``[D, D]`` matrix."""
    w = rng.normal(size=(dim, dim))
    return w @ w.T / dim + 0.3 * np.eye(dim)


def bw2_squared_reference(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> float:
    """The formula as written, with scipy's general matrix square root (an independent implementation)."""
    root = np.real(scipy.linalg.sqrtm(s1))
    cross = np.real(scipy.linalg.sqrtm(root @ s2 @ root))
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def whitened_normal(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws ``[n, D]`` with exactly mean 0 and unbiased (ddof = 1) covariance I."""
    z = rng.standard_normal((n, dim))
    z -= z.mean(0)
    chol = np.linalg.cholesky(z.T @ z / (n - 1))
    return np.linalg.solve(chol, z.T).T


# ---------------------------------------------------------------- bw2_squared


def test_bw2_squared_of_identical_gaussians_is_zero() -> None:
    rng = np.random.default_rng(0)
    mean, cov = rng.normal(size=5), random_spd(5, rng)
    assert bw2_squared(mean, cov, mean, cov) == pytest.approx(0.0, abs=1e-12)


def test_bw2_squared_commuting_covariances_closed_form() -> None:
    # Diagonal covariances: BW2^2 = |m1 - m2|^2 + sum (sqrt(s1) - sqrt(s2))^2.
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    s1, s2 = rng.uniform(0.1, 3.0, size=4), rng.uniform(0.1, 3.0, size=4)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert bw2_squared(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)
    # Commuting but not diagonal: the same formula in a rotated basis.
    _, rotation = np.linalg.eigh(random_spd(4, rng))
    value = bw2_squared(m1, rotation @ np.diag(s1) @ rotation.T, m2, rotation @ np.diag(s2) @ rotation.T)
    assert value == pytest.approx(expected, rel=1e-10)


def test_bw2_squared_is_symmetric_and_matches_independent_implementations() -> None:
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = random_spd(6, rng), random_spd(6, rng)
    forward, backward = bw2_squared(m1, s1, m2, s2), bw2_squared(m2, s2, m1, s1)
    assert forward > 0.1
    assert forward == pytest.approx(backward, rel=1e-12)
    assert forward == pytest.approx(bw2_squared_reference(m1, s1, m2, s2), rel=1e-10)
    pot_distance = float(ot.gaussian.bures_wasserstein_distance(m1, m2, s1, s2))
    assert forward == pytest.approx(pot_distance**2, rel=1e-8)


def test_bw2_squared_handles_singular_covariances() -> None:
    # A point mass against N(0, S): BW2^2 = tr S (and never a negative from round-off).
    cov = random_spd(3, np.random.default_rng(3))
    zero_mean, zero_cov = np.zeros(3), np.zeros((3, 3))
    assert bw2_squared(zero_mean, zero_cov, zero_mean, cov) == pytest.approx(np.trace(cov), rel=1e-12)
    assert bw2_squared(zero_mean, zero_cov, zero_mean, zero_cov) == 0.0


def test_bw2_squared_accepts_torch_tensors() -> None:
    rng = np.random.default_rng(4)
    m1, m2, s1, s2 = rng.normal(size=3), rng.normal(size=3), random_spd(3, rng), random_spd(3, rng)
    as_tensors = bw2_squared(*(torch.tensor(v) for v in (m1, s1, m2, s2)))
    assert as_tensors == pytest.approx(bw2_squared(m1, s1, m2, s2), rel=1e-12)


# ---------------------------------------------------------------- bw2_uvp


def test_bw2_uvp_of_moment_matched_samples_is_zero() -> None:
    # Sample mean and unbiased covariance equal the truth exactly, so the metric (ddof = 1) is 0.
    rng = np.random.default_rng(5)
    mean, cov = rng.normal(size=4), random_spd(4, rng)
    samples = mean + whitened_normal(300, 4, rng) @ np.linalg.cholesky(cov).T
    assert bw2_uvp(samples, mean, cov) == pytest.approx(0.0, abs=1e-9)


def test_bw2_uvp_of_exact_samples_is_small_and_shrinks_with_n() -> None:
    # The floor is O(1 / n); average over 5 repetitions for a stable comparison of n = 500 and n = 50k.
    rng = np.random.default_rng(6)
    mean, cov = random_gaussian(8, rng)
    root = np.linalg.cholesky(cov)

    def floor(n: int) -> float:
        values = [bw2_uvp(mean + rng.standard_normal((n, 8)) @ root.T, mean, cov) for _ in range(5)]
        return float(np.mean(values))

    small_n, large_n = floor(500), floor(50_000)
    assert 0 < large_n < 0.1
    assert small_n < 5.0
    assert large_n < small_n / 20


def test_bw2_uvp_of_a_shifted_sample_is_the_relative_shift() -> None:
    rng = np.random.default_rng(7)
    mean, cov = np.zeros(3), random_spd(3, rng)
    samples = whitened_normal(200, 3, rng) @ np.linalg.cholesky(cov).T + np.array([1.0, 0.0, 0.0])
    assert bw2_uvp(samples, mean, cov) == pytest.approx(100.0 / np.trace(cov), rel=1e-9)


# ---------------------------------------------------------------- cbw2_uvp


def conditional_setup(dim: int, n_inputs: int, seed: int):
    problem = gaussian_benchmark_pair(dim, 1.0, seed)
    rng = np.random.default_rng(seed)
    x = problem.sample_source(n_inputs, rng)
    return problem, x, rng


def test_cbw2_uvp_of_exact_conditional_samples_is_near_its_floor() -> None:
    # D = 4, 1000 samples per input: the Monte-Carlo floor is well below 1 % (MATH.md: ~0.1 % at D = 16).
    problem, x, rng = conditional_setup(4, 50, seed=8)
    samples = problem.sample_conditional(x, 1000, rng)
    target_var = float(np.trace(problem.target_cov))
    value = cbw2_uvp(samples, problem.conditional_mean(x), problem.conditional_cov, target_var)
    assert 0 < value < 0.5


def test_cbw2_uvp_of_the_conditional_mean_without_spread_is_the_conditional_variance() -> None:
    # Samples all equal to the exact mean: sample covariance 0, so each term is tr(cond_cov) exactly.
    problem, x, _ = conditional_setup(3, 20, seed=9)
    means = problem.conditional_mean(x)
    samples = np.repeat(means[:, None, :], 7, axis=1)
    target_var = float(np.trace(problem.target_cov))
    expected = 100.0 * np.trace(problem.conditional_cov) / target_var
    assert cbw2_uvp(samples, means, problem.conditional_cov, target_var) == pytest.approx(expected, rel=1e-10)


def test_cbw2_uvp_agrees_with_a_loop_of_bw2_squared() -> None:
    # Per-input truth covariances [n, D, D], several chunk sizes, against the scalar function.
    rng = np.random.default_rng(10)
    n, k, dim = 9, 30, 3
    samples = rng.normal(size=(n, k, dim)) * rng.uniform(0.5, 2.0, size=(n, 1, dim))
    true_means = rng.normal(size=(n, dim))
    true_covs = np.stack([random_spd(dim, rng) for _ in range(n)])
    expected = 100.0 * np.mean([
        bw2_squared(samples[i].mean(0), np.cov(samples[i].T), true_means[i], true_covs[i]) for i in range(n)
    ]) / 2.5
    for chunk_size in (1, 4, 64):
        value = cbw2_uvp(samples, true_means, true_covs, 2.5, chunk_size=chunk_size)
        assert value == pytest.approx(expected, rel=1e-10)
    shared = cbw2_uvp(samples, true_means, true_covs[0], 2.5)
    broadcast = cbw2_uvp(samples, true_means, np.repeat(true_covs[:1], n, axis=0), 2.5)
    assert shared == pytest.approx(broadcast, rel=1e-10)


def test_cbw2_uvp_accepts_torch_tensors() -> None:
    problem, x, rng = conditional_setup(2, 5, seed=11)
    samples = problem.sample_conditional(x, 50, rng)
    means, cov = problem.conditional_mean(x), problem.conditional_cov
    from_numpy = cbw2_uvp(samples, means, cov, 1.0)
    from_torch = cbw2_uvp(torch.tensor(samples), torch.tensor(means), torch.tensor(cov), 1.0)
    assert from_torch == pytest.approx(from_numpy, rel=1e-12)


# ---------------------------------------------------------------- energy distance


def test_energy_distance_is_zero_for_the_same_sample_and_positive_for_a_shift() -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(300, 3))
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-12)
    near, far = energy_distance(x, x + 0.5), energy_distance(x, x + 2.0)
    assert 0 < near < far


def test_energy_distance_matches_scipy_in_one_dimension() -> None:
    # scipy.stats.energy_distance is the square root of the same V-statistic.
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=200), rng.normal(0.3, 1.5, size=150)
    expected = scipy.stats.energy_distance(x, y) ** 2
    assert energy_distance(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-10)


def test_energy_distance_matches_brute_force_for_any_chunk_size() -> None:
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(37, 4)), rng.normal(size=(23, 4)) + 0.2

    def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a[:, None] - b[None], axis=-1).mean())

    expected = 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)
    for chunk_size in (1, 5, 1024):
        assert energy_distance(x, y, chunk_size=chunk_size) == pytest.approx(expected, rel=1e-12)
    assert energy_distance(torch.tensor(x), torch.tensor(y)) == pytest.approx(expected, rel=1e-12)
    assert energy_distance(y, x) == pytest.approx(expected, rel=1e-12)


def test_unbiased_energy_distance_leaves_the_diagonal_out() -> None:
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(31, 3)), rng.normal(size=(19, 3)) + 0.1

    def u_mean(a: np.ndarray) -> float:
        distances = np.linalg.norm(a[:, None] - a[None], axis=-1)
        return float(distances.sum() / (len(a) * (len(a) - 1)))

    cross = float(np.linalg.norm(x[:, None] - y[None], axis=-1).mean())
    expected = 2 * cross - u_mean(x) - u_mean(y)
    assert energy_distance(x, y, unbiased=True) == pytest.approx(expected, rel=1e-12)
    assert half_energy_distance(x, y) == pytest.approx(expected / 2, rel=1e-12)
    # Unbiased: two samples of one distribution average to 0, so values of either sign occur.
    values = [half_energy_distance(rng.normal(size=(40, 2)), rng.normal(size=(40, 2))) for _ in range(200)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values)) and min(values) < 0
    with pytest.raises(ValueError, match="at least 2 points"):
        energy_distance(x[:1], y, unbiased=True)


# ---------------------------------------------------------------- validation


Z2, Z3, I2, I3 = np.zeros(2), np.zeros(3), np.eye(2), np.eye(3)


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: bw2_squared(Z2, I3, Z2, I2), r"cov1 must have shape \[D, D\] = \[2, 2\]"),
    (lambda: bw2_squared(Z2, I2, Z3, I3), r"mean2 must have shape \[D\] = \[2\]"),
    (lambda: bw2_squared(np.zeros((1, 2)), I2, Z2, I2), r"mean1 must have shape \[D\] \(1 axes\)"),
    (lambda: bw2_squared(Z2, [[1.0, 1.0], [0.0, 1.0]], Z2, I2), "cov1 must be symmetric"),
    (lambda: bw2_squared(Z2, I2, [np.nan, 0.0], I2), "mean2 contains NaN"),
    (lambda: bw2_uvp(np.zeros((5, 3)), Z2, I2), r"samples must have shape \[n, D\] with D = 2"),
    (lambda: bw2_uvp(np.zeros(5), np.zeros(1), np.eye(1)), r"samples must have shape \[n, D\] \(2 axes\)"),
    (lambda: bw2_uvp(np.zeros((1, 2)), Z2, I2), "n >= 2"),
    (lambda: bw2_uvp(np.zeros((5, 2)), Z2, np.zeros((2, 2))), "true_cov must have a positive trace"),
    (lambda: cbw2_uvp(np.zeros((4, 3)), np.zeros((4, 3)), I3, 1.0), r"samples must have shape \[n, k, D\]"),
    (lambda: cbw2_uvp(np.zeros((4, 1, 3)), np.zeros((4, 3)), I3, 1.0), "k >= 2"),
    (lambda: cbw2_uvp(np.zeros((4, 5, 3)), np.zeros((3, 3)), I3, 1.0), r"true_means must have shape \[n,"),
    (lambda: cbw2_uvp(np.zeros((4, 5, 3)), np.zeros((4, 3)), I2, 1.0), r"true_covs must have shape"),
    (lambda: cbw2_uvp(np.zeros((4, 5, 3)), np.zeros((4, 3)), np.ones((3, 3, 3)), 1.0), "true_covs must have"),
    (lambda: cbw2_uvp(np.zeros((4, 5, 3)), np.zeros((4, 3)), I3, 0.0), "target_var"),
    (lambda: cbw2_uvp(np.zeros((4, 5, 3)), np.zeros((4, 3)), I3, float("nan")), "target_var"),
    (lambda: cbw2_uvp(np.full((4, 5, 3), np.inf), np.zeros((4, 3)), I3, 1.0), "samples contains NaN"),
    (lambda: energy_distance(np.zeros((4, 3)), np.zeros((4, 2))), r"y must have shape \[m, D\] with D = 3"),
    (lambda: energy_distance(np.zeros(4), np.zeros((4, 1))), r"x must have shape \[n, D\] \(2 axes\)"),
    (lambda: energy_distance(np.zeros((0, 2)), np.zeros((4, 2))), "x must have shape .* no empty axis"),
    (lambda: energy_distance(np.zeros((4, 2)), np.zeros((4, 2)), chunk_size=0), "chunk_size"),
    (lambda: energy_distance(np.zeros((4, 2)), [["a", "b"]]), "y must be a real array"),
])
def test_metrics_reject_bad_inputs(call, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_cbw2_uvp_accepts_numpy_and_tensor_scalars_for_target_var() -> None:
    samples, means = np.random.default_rng(0).normal(size=(2, 4, 2)), np.zeros((2, 2))
    reference = cbw2_uvp(samples, means, I2, 2.0)
    assert cbw2_uvp(samples, means, I2, np.float32(2.0)) == pytest.approx(reference, rel=1e-12)
    assert cbw2_uvp(samples, means, I2, torch.tensor(2.0)) == pytest.approx(reference, rel=1e-12)


def test_relative_rmse() -> None:
    exact = np.array([3.0, -4.0])
    assert relative_rmse(exact, exact) == 0.0
    assert relative_rmse(np.zeros(2), exact) == pytest.approx(1.0)
    assert relative_rmse(exact + 1.0, exact) == pytest.approx(1.0 / np.sqrt(12.5))
    assert relative_rmse(torch.tensor([3.0, -4.0]), exact) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        relative_rmse(np.zeros(3), exact)
    with pytest.raises(ValueError, match="all zeros"):
        relative_rmse(exact, np.zeros(2))
