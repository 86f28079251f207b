"""Tests of the closed-form Gaussian EOT oracle: optimality conditions, limits, POT agreement, samplers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
import torch

from neurot.benchmarks.gaussian import (
    GaussianEOT,
    brenier_map,
    brenier_map_matrix,
    displacement_interpolation,
    gaussian_benchmark_pair,
    random_gaussian,
)

ot = pytest.importorskip("ot")


def random_problem(dim: int, eps: float, seed: int) -> GaussianEOT:
    """A benchmark pair with non-zero means, so that mean handling is exercised too."""
    rng = np.random.default_rng(seed)
    pair = gaussian_benchmark_pair(dim, eps, seed)
    return GaussianEOT(rng.normal(size=dim), pair.source_cov, rng.normal(size=dim), pair.target_cov, eps)


def whitened_normal(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws ``[n, D]`` transformed to have exactly mean 0 and (ddof = 0) covariance I."""
    z = rng.standard_normal((n, dim))
    z -= z.mean(0)
    chol = np.linalg.cholesky(z.T @ z / n)
    return np.linalg.solve(chol, z.T).T


def moment_matched_sample(mean: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``[n, D]`` points whose empirical mean and (ddof = 0) covariance equal ``mean`` and ``cov`` exactly."""
    return mean + whitened_normal(n, len(mean), rng) @ np.linalg.cholesky(cov).T


# ---------------------------------------------------------------- optimality conditions and closed forms


@pytest.mark.parametrize("dim", [1, 3, 5])
@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_joint_precision_off_diagonal_block_is_minus_identity_over_eps(dim: int, eps: float) -> None:
    # A Gaussian coupling with marginals A, B is the EOT plan iff its density is exp((f(x) + g(y) - c) / eps)
    # P x Q with quadratic f, g, i.e. iff the x-y block of its precision is -I / eps (MATH.md, section 3).
    problem = random_problem(dim, eps, seed=dim)
    cov = problem.plan_cov
    np.testing.assert_allclose(cov[:dim, :dim], problem.source_cov, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cov[dim:, dim:], problem.target_cov, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(cov).min() > 0
    precision = np.linalg.inv(cov)
    np.testing.assert_allclose(eps * precision[:dim, dim:], -np.eye(dim), rtol=0, atol=1e-9)
    np.testing.assert_allclose(eps * precision[dim:, :dim], -np.eye(dim), rtol=0, atol=1e-9)
    np.testing.assert_allclose(problem.plan_mean, np.concatenate([problem.source_mean, problem.target_mean]))


@pytest.mark.parametrize("dim", [2, 4])
@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_cross_and_conditional_cov_match_the_janati_formulas(dim: int, eps: float) -> None:
    # The class uses a cancellation-free rewrite; check it against the formulas as written in MATH.md.
    problem = random_problem(dim, eps, seed=10 + dim)
    a_cov, b_cov = problem.source_cov, problem.target_cov
    root = np.real(scipy.linalg.sqrtm(a_cov))
    big_d = np.real(scipy.linalg.sqrtm(4 * root @ b_cov @ root + eps**2 * np.eye(dim)))
    cross = 0.5 * (root @ big_d @ np.linalg.inv(root) - eps * np.eye(dim))
    np.testing.assert_allclose(problem.cross_cov, cross, rtol=0, atol=1e-10)
    conditional = b_cov - cross.T @ np.linalg.solve(a_cov, cross)
    np.testing.assert_allclose(problem.conditional_cov, conditional, rtol=0, atol=1e-10)
    x = np.random.default_rng(0).normal(size=(7, dim))
    expected_mean = problem.target_mean + (x - problem.source_mean) @ np.linalg.solve(a_cov, cross)
    np.testing.assert_allclose(problem.conditional_mean(x), expected_mean, rtol=0, atol=1e-10)


@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_potential_hessian_gives_the_plan_conditionals(eps: float) -> None:
    # exp((f(y) - |x - y|^2 / 2) / eps) with f(y) = 1/2 (y - b)^T H (y - b) + (b - a)^T (y - b) is the Gaussian of
    # precision (I - H) / eps and mean (I - H)^{-1} (x + (b - a) - H b): it must be pi*(. | x).
    problem = random_problem(5, eps, seed=20)
    hessian, a, b = problem.potential_hessian, problem.source_mean, problem.target_mean
    np.testing.assert_allclose(hessian, hessian.T, rtol=0, atol=0)
    assert np.linalg.eigvalsh(hessian).max() < 1
    precision = np.eye(5) - hessian
    np.testing.assert_allclose(eps * np.linalg.inv(precision), problem.conditional_cov, rtol=1e-8, atol=1e-12)
    x = np.random.default_rng(1).normal(size=(6, 5))
    mean = np.linalg.solve(precision, (x + (b - a) - hessian @ b).T).T
    np.testing.assert_allclose(mean, problem.conditional_mean(x), rtol=0, atol=1e-9)


@pytest.mark.parametrize("eps", [0.01, 1.0, 100.0])
def test_one_dimensional_closed_form(eps: float) -> None:
    # D = 1: Cov(x, y) = (sqrt(4 a^2 b^2 + eps^2) - eps) / 2, Var(y | x) = b^2 - Cov^2 / a^2.
    sa, sb = 0.7, 1.9
    problem = GaussianEOT([0.5], [[sa**2]], [-2.0], [[sb**2]], eps)
    cross = (np.sqrt(4 * sa**2 * sb**2 + eps**2) - eps) / 2
    np.testing.assert_allclose(problem.cross_cov, [[cross]], rtol=1e-12)
    np.testing.assert_allclose(problem.conditional_cov, [[sb**2 - cross**2 / sa**2]], rtol=1e-9)
    assert problem.dim == 1


def test_small_eps_recovers_the_brenier_map() -> None:
    eps = 1e-6
    problem = random_problem(4, eps, seed=3)
    x = problem.sample_source(50, np.random.default_rng(1))
    mapped = brenier_map(x, problem.source_mean, problem.source_cov, problem.target_mean, problem.target_cov)
    # Deviations are O(eps) (e.g. Var(y | x) = eps b / a in one dimension).
    np.testing.assert_allclose(problem.conditional_mean(x), mapped, rtol=0, atol=1e-5)
    np.testing.assert_allclose(problem.conditional_cov, np.zeros((4, 4)), rtol=0, atol=1e-5)
    a_cov = problem.source_cov
    matrix = brenier_map_matrix(a_cov, problem.target_cov)
    np.testing.assert_allclose(problem.cross_cov, a_cov @ matrix, rtol=0, atol=1e-5)


def test_large_eps_gives_independence() -> None:
    # C ~ A B / eps as eps -> infinity.
    eps = 1e6
    problem = random_problem(4, eps, seed=4)
    assert np.abs(problem.cross_cov).max() < 1e-4
    np.testing.assert_allclose(problem.cross_cov, problem.source_cov @ problem.target_cov / eps,
                               rtol=1e-3, atol=1e-12)
    x = problem.sample_source(20, np.random.default_rng(2))
    np.testing.assert_allclose(problem.conditional_mean(x), np.tile(problem.target_mean, (20, 1)), atol=1e-4)
    np.testing.assert_allclose(problem.conditional_cov, problem.target_cov, rtol=0, atol=1e-4)


@pytest.mark.parametrize("dim", [1, 2, 6])
def test_brenier_map_pushes_source_to_target_exactly(dim: int) -> None:
    rng = np.random.default_rng(dim)
    _, a_cov = random_gaussian(dim, rng)
    _, b_cov = random_gaussian(dim, rng)
    matrix = brenier_map_matrix(a_cov, b_cov)
    np.testing.assert_allclose(matrix, matrix.T, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(matrix).min() > 0
    np.testing.assert_allclose(matrix @ a_cov @ matrix.T, b_cov, rtol=0, atol=1e-10)
    a, b = rng.normal(size=dim), rng.normal(size=dim)
    x = rng.normal(size=(5, dim))
    np.testing.assert_allclose(brenier_map(x, a, a_cov, b, b_cov), b + (x - a) @ matrix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(brenier_map(a[None], a, a_cov, b, b_cov), b[None], rtol=0, atol=1e-12)


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_displacement_interpolation_is_the_law_of_the_interpolated_map(t: float) -> None:
    # X_t = (1 - t) x + t T(x) is an affine image of N(a, A): its mean and covariance are exact, up to round-off.
    rng = np.random.default_rng(9)
    a, a_cov = random_gaussian(3, rng)
    b, b_cov = random_gaussian(3, rng)
    mean, cov = displacement_interpolation(t, a, a_cov, b, b_cov)
    blend = (1 - t) * np.eye(3) + t * brenier_map_matrix(a_cov, b_cov)
    np.testing.assert_allclose(mean, (1 - t) * a + t * b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov, blend @ a_cov @ blend.T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cov, {0.0: a_cov, 1.0: b_cov}.get(t, cov), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="t must be in"):
        displacement_interpolation(1.5, a, a_cov, b, b_cov)


# ---------------------------------------------------------------- agreement with POT's discrete Sinkhorn


@pytest.mark.parametrize("eps", [1.0, 0.5])
def test_cross_cov_agrees_with_pot_sinkhorn(eps: float) -> None:
    # Samples are moment-matched (empirical mean and covariance equal the truth exactly). Without this the
    # sample covariances alone would fluctuate by ~0.1 here (entries up to ~4, n = 2000). What remains is the
    # non-Gaussianity of the empirical measures, measured at < 0.005 over 8 seeds: tolerance 0.02.
    # Our eps is POT's reg / 2 (ot.dist is |x - y|^2, without the 1/2).
    tolerance, n = 0.02, 2000
    problem = gaussian_benchmark_pair(2, eps, seed=0)
    rng = np.random.default_rng(123)
    x = moment_matched_sample(problem.source_mean, problem.source_cov, n, rng)
    y = moment_matched_sample(problem.target_mean, problem.target_cov, n, rng)
    weights = np.full(n, 1.0 / n)
    plan = ot.sinkhorn(weights, weights, ot.dist(x, y), reg=2 * eps, numItermax=20000, stopThr=1e-10)
    np.testing.assert_allclose(plan.sum(1), weights, rtol=1e-6)
    np.testing.assert_allclose(plan.sum(0), weights, rtol=1e-6)
    estimate = (x - x.mean(0)).T @ plan @ (y - y.mean(0))
    np.testing.assert_allclose(estimate, problem.cross_cov, rtol=0, atol=tolerance)
    # The test can tell the conventions apart: the plan at 2 eps (reg = eps read as our eps) is far off.
    wrong = gaussian_benchmark_pair(2, 2 * eps, seed=0).cross_cov
    assert np.abs(estimate - wrong).max() > 5 * tolerance


# ---------------------------------------------------------------- Schrodinger bridge marginals


def test_bridge_marginal_endpoints_are_the_marginals() -> None:
    problem = random_problem(3, 0.7, seed=5)
    mean, cov = problem.bridge_marginal(0.0)
    np.testing.assert_allclose(mean, problem.source_mean, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cov, problem.source_cov, rtol=0, atol=1e-14)
    mean, cov = problem.bridge_marginal(1.0)
    np.testing.assert_allclose(mean, problem.target_mean, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cov, problem.target_cov, rtol=0, atol=1e-14)


@pytest.mark.parametrize("t", [0.5, 0.2])
def test_bridge_marginal_matches_simulated_brownian_bridges(t: float) -> None:
    # X_t = (1 - t) x + t y + sqrt(eps t (1 - t)) Z over (x, y) from the plan's sampler. With n = 200k the
    # standard error of a covariance entry (scale <= 4) is < 0.015; tolerance 0.05 (and 0.03 for the mean).
    eps, n = 0.7, 200_000
    problem = random_problem(3, eps, seed=6)
    rng = np.random.default_rng(7)
    x, y = problem.sample_plan(n, rng)
    xt = (1 - t) * x + t * y + np.sqrt(eps * t * (1 - t)) * rng.standard_normal(x.shape)
    mean, cov = problem.bridge_marginal(t)
    np.testing.assert_allclose(xt.mean(0), mean, rtol=0, atol=0.03)
    np.testing.assert_allclose(np.cov(xt.T), cov, rtol=0, atol=0.05)
    np.testing.assert_allclose(cov, cov.T, rtol=0, atol=1e-14)


# ---------------------------------------------------------------- samplers


def test_sample_conditional_reproduces_conditional_moments() -> None:
    # 40k draws per x; conditional variances are < 1 here, so standard errors are < 0.005 (mean) and
    # < 0.007 (covariance entries); tolerances 0.03.
    problem = random_problem(3, 0.5, seed=8)
    rng = np.random.default_rng(9)
    x = problem.sample_source(3, rng)
    draws = problem.sample_conditional(x, 40_000, rng)
    assert draws.shape == (3, 40_000, 3)
    assert np.diag(problem.conditional_cov).max() < 1.0
    np.testing.assert_allclose(draws.mean(1), problem.conditional_mean(x), rtol=0, atol=0.03)
    for i in range(3):
        np.testing.assert_allclose(np.cov(draws[i].T), problem.conditional_cov, rtol=0, atol=0.03)


def test_sample_plan_and_marginals_reproduce_their_moments() -> None:
    # n = 200k: standard errors of covariance entries (scale <= 4) are < 0.015; tolerance 0.06.
    problem = random_problem(2, 1.0, seed=11)
    rng = np.random.default_rng(12)
    n = 200_000
    x, y = problem.sample_plan(n, rng)
    assert x.shape == y.shape == (n, 2)
    joint = np.concatenate([x, y], axis=1)
    np.testing.assert_allclose(joint.mean(0), problem.plan_mean, rtol=0, atol=0.03)
    np.testing.assert_allclose(np.cov(joint.T), problem.plan_cov, rtol=0, atol=0.06)
    source, target = problem.sample_source(n, rng), problem.sample_target(n, rng)
    np.testing.assert_allclose(np.cov(source.T), problem.source_cov, rtol=0, atol=0.06)
    np.testing.assert_allclose(np.cov(target.T), problem.target_cov, rtol=0, atol=0.06)
    np.testing.assert_allclose(target.mean(0), problem.target_mean, rtol=0, atol=0.03)


def test_samplers_are_reproducible_from_the_generator() -> None:
    problem = gaussian_benchmark_pair(3, 1.0, seed=0)
    first = problem.sample_plan(10, np.random.default_rng(5))
    second = problem.sample_plan(10, np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# ---------------------------------------------------------------- random problems


@pytest.mark.parametrize("dim", [1, 2, 8])
def test_random_gaussian_follows_the_egnot_protocol(dim: int) -> None:
    mean, cov = random_gaussian(dim, np.random.default_rng(0))
    np.testing.assert_array_equal(mean, np.zeros(dim))
    np.testing.assert_allclose(cov, cov.T, rtol=0, atol=0)
    expected = np.exp(np.linspace(np.log(0.5), np.log(2.0), dim)) ** 2
    np.testing.assert_allclose(np.linalg.eigvalsh(cov), np.sort(expected), rtol=1e-12)


def test_random_gaussian_rotates_the_basis() -> None:
    _, cov = random_gaussian(4, np.random.default_rng(1))
    assert np.abs(cov - np.diag(np.diag(cov))).max() > 0.1


def test_benchmark_pair_is_determined_by_the_seed() -> None:
    first, second = gaussian_benchmark_pair(4, 0.3, seed=42), gaussian_benchmark_pair(4, 0.3, seed=42)
    np.testing.assert_array_equal(first.source_cov, second.source_cov)
    np.testing.assert_array_equal(first.target_cov, second.target_cov)
    assert first.eps == 0.3
    other = gaussian_benchmark_pair(4, 0.3, seed=43)
    assert not np.allclose(first.source_cov, other.source_cov)
    assert not np.allclose(first.source_cov, first.target_cov)


# ---------------------------------------------------------------- inputs, immutability, validation


def test_accepts_torch_tensors_and_array_likes() -> None:
    reference = random_problem(2, 0.5, seed=13)
    as_tensors = GaussianEOT(*(torch.tensor(v) for v in (reference.source_mean, reference.source_cov,
                                                          reference.target_mean, reference.target_cov)), 0.5)
    np.testing.assert_allclose(as_tensors.cross_cov, reference.cross_cov, rtol=0, atol=1e-14)
    x = torch.randn(4, 2, dtype=torch.float32)
    np.testing.assert_allclose(reference.conditional_mean(x), reference.conditional_mean(x.numpy().tolist()),
                               rtol=0, atol=1e-12)
    assert as_tensors.source_mean.dtype == np.float64


def test_is_immutable_and_leaves_inputs_alone() -> None:
    cov = np.array([[1.0, 0.2], [0.2, 0.5]])
    problem = GaussianEOT(np.zeros(2), cov, np.ones(2), cov, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.eps = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        problem.source_cov[0, 0] = 5.0
    with pytest.raises(ValueError):
        problem.cross_cov[0, 0] = 5.0
    cov[0, 0] = 3.0  # the caller's array stays writable and the problem keeps its own copy
    assert problem.source_cov[0, 0] == 1.0


GOOD = {"source_mean": np.zeros(2), "source_cov": np.eye(2), "target_mean": np.ones(2),
        "target_cov": np.diag([2.0, 0.5]), "eps": 1.0}


@pytest.mark.parametrize(("field", "value", "pattern"), [
    ("source_mean", np.zeros(3), r"source_cov must have shape \[D, D\] = \[3, 3\] \(D from source_mean\)"),
    ("target_mean", np.zeros(3), r"target_mean must have shape \[D\] = \[2\]"),
    ("source_mean", np.zeros((2, 1)), "source_mean"),
    ("target_mean", [0.0, np.nan], "target_mean"),
    ("source_cov", np.eye(3), "source_cov"),
    ("source_cov", [[1.0, 0.5], [0.0, 1.0]], "source_cov must be symmetric"),
    ("target_cov", [[1.0, 2.0], [2.0, 1.0]], "target_cov must be positive definite"),
    ("target_cov", np.zeros((2, 2)), "target_cov must be positive definite"),
    ("target_cov", np.ones(2), "target_cov"),
    ("eps", 0.0, "eps"),
    ("eps", -1.0, "eps"),
    ("eps", float("inf"), "eps"),
    ("eps", float("nan"), "eps"),
    ("eps", "big", "eps"),
])
def test_constructor_rejects_bad_inputs(field: str, value: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        GaussianEOT(**{**GOOD, field: value})


def test_methods_reject_bad_inputs() -> None:
    problem = GaussianEOT(**GOOD)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"x must have shape \[n, D\]"):
        problem.conditional_mean(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \[n, D\] \(2 axes\)"):
        problem.sample_conditional(np.zeros(2), 5, rng)
    with pytest.raises(ValueError, match="n_per_x must be an integer >= 1"):
        problem.sample_conditional(np.zeros((1, 2)), 0, rng)
    with pytest.raises(ValueError, match="^n must be an integer >= 1"):
        problem.sample_plan(0, rng)
    with pytest.raises(TypeError, match="rng"):
        problem.sample_source(5, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        problem.bridge_marginal(1.5)
    with pytest.raises(ValueError, match=r"target_cov must have shape \[D, D\] = \[2, 2\]"):
        brenier_map_matrix(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match=r"x must have shape \[n, D\] with D = 2"):
        brenier_map(np.zeros((3, 3)), np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        random_gaussian(0, rng)
