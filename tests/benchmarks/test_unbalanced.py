"""The unbalanced Gaussian EOT oracle against POT, the balanced closed form and its own optimality conditions."""

import numpy as np
import pytest

from neurot.benchmarks import GaussianEOT, UnbalancedGaussianEOT, gaussian_benchmark_pair

ot = pytest.importorskip("ot")


def weighted_moments(weights, points):
    mass = weights.sum()
    w = weights / mass
    mean = w @ points
    centred = points - mean
    return mass, mean, centred.T @ (centred * w[:, None])


@pytest.fixture(scope="module")
def problem():
    pair = gaussian_benchmark_pair(2, eps=1.0, seed=0)
    return pair.source_mean, pair.source_cov, pair.target_mean + np.array([1.0, 0.5]), pair.target_cov


@pytest.mark.parametrize("taus", [(1.0, 2.0), (None, 1.0), (0.5, None)])
def test_kl_reference_matches_pot_on_samples(problem, taus):
    """POT on 2000 + 2000 samples, reg = 2 eps, reg_m = 2 tau (squared distance without 1/2). Tolerances: sampling
    error of a 2000-point plan (mass 0.02, means 0.08, covariances 0.15 on entries of order 1)."""
    a, A, b, B = problem
    eps = 0.5
    oracle = UnbalancedGaussianEOT(a, A, b, B, eps, *taus, entropy="kl")
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.multivariate_normal(a, A, n)
    y = rng.multivariate_normal(b, B, n)
    reg_m = tuple(np.inf if t is None else 2 * t for t in taus)
    plan = ot.unbalanced.sinkhorn_unbalanced(np.full(n, 1 / n), np.full(n, 1 / n), ot.dist(x, y), 2 * eps, reg_m,
                                             numItermax=5000, stopThr=1e-9)
    for weights, points, (mass, mean, cov) in [(plan.sum(1), x, oracle.source_marginal),
                                               (plan.sum(0), y, oracle.target_marginal)]:
        got_mass, got_mean, got_cov = weighted_moments(weights, points)
        assert got_mass == pytest.approx(mass, abs=0.02)
        np.testing.assert_allclose(got_mean, mean, atol=0.08)
        np.testing.assert_allclose(got_cov, cov, atol=0.15)
    cross = (x - oracle.plan_mean[:2]).T @ plan @ (y - oracle.plan_mean[2:]) / plan.sum()
    np.testing.assert_allclose(cross, oracle.cross_cov, atol=0.1)


@pytest.mark.parametrize("entropy", ["kl", "lebesgue"])
def test_matches_pot_on_a_1d_grid(entropy):
    """A fine grid makes POT's discrete problem the continuous one; the Lebesgue reference is ``c = a dy``."""
    oracle = UnbalancedGaussianEOT([0.0], [[1.0]], [2.0], [[0.5]], 0.5, None, 1.0, entropy=entropy)
    grid = np.linspace(-8, 10, 1200)
    step = grid[1] - grid[0]
    a = np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi) * step
    b = np.exp(-(grid - 2) ** 2) / np.sqrt(np.pi) * step
    reference = a[:, None] * step * np.ones((1, len(grid))) if entropy == "lebesgue" else None
    plan = ot.unbalanced.sinkhorn_unbalanced(a, b, ot.dist(grid[:, None], grid[:, None]), 1.0, (np.inf, 2.0),
                                             c=reference, numItermax=20_000, stopThr=1e-11)
    mass, mean, cov = weighted_moments(plan.sum(0), grid[:, None])
    true_mass, true_mean, true_cov = oracle.target_marginal
    assert mass == pytest.approx(true_mass, abs=1e-4)
    np.testing.assert_allclose(mean, true_mean, atol=1e-3)
    np.testing.assert_allclose(cov, true_cov, atol=1e-3)


@pytest.mark.parametrize("entropy", ["kl", "lebesgue"])
def test_hard_marginals_give_the_balanced_closed_form(problem, entropy):
    a, A, b, B = problem
    oracle = UnbalancedGaussianEOT(a, A, b, B, 0.7, None, None, entropy=entropy)
    balanced = GaussianEOT(a, A, b, B, 0.7)
    assert oracle.mass == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(oracle.plan_cov, balanced.plan_cov, atol=1e-8)
    np.testing.assert_allclose(oracle.plan_mean, balanced.plan_mean, atol=1e-8)


@pytest.mark.parametrize("entropy", ["kl", "lebesgue"])
def test_large_tau_approaches_balanced(problem, entropy):
    a, A, b, B = problem
    balanced = GaussianEOT(a, A, b, B, 0.5)
    errors = []
    for tau in (10.0, 100.0, 1000.0):
        tau_source = tau if entropy == "kl" else None
        oracle = UnbalancedGaussianEOT(a, A, b, B, 0.5, tau_source, tau, entropy=entropy)
        errors.append(np.abs(oracle.plan_cov - balanced.plan_cov).max()
                      + np.abs(oracle.plan_mean - balanced.plan_mean).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


def test_target_marginal_is_q_times_exp_minus_g_over_tau(problem):
    """First-order condition of the target penalty: ``d pi_1 / d beta = exp(-g / tau2)``."""
    a, A, b, B = problem
    oracle = UnbalancedGaussianEOT(a, A, b, B, 0.5, None, 1.5, target_mass=2.0, entropy="lebesgue")
    y = np.random.default_rng(0).multivariate_normal(b, B, 50)
    mass, mean, cov = oracle.target_marginal

    def log_density(points, m, S):
        centred = points - m
        return (-0.5 * np.einsum("ni,ij,nj->n", centred, np.linalg.inv(S), centred)
                - 0.5 * np.linalg.slogdet(2 * np.pi * S)[1])

    log_ratio = np.log(mass) + log_density(y, mean, cov) - np.log(2.0) - log_density(y, b, B)
    np.testing.assert_allclose(log_ratio, np.log(oracle.target_density_ratio(y)), atol=1e-8)


def test_semi_unbalanced_keeps_the_source_marginal(problem):
    a, A, b, B = problem
    oracle = UnbalancedGaussianEOT(a, A, b, B, 0.5, None, 1.0, entropy="lebesgue")
    mass, mean, cov = oracle.source_marginal
    assert mass == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(mean, a, atol=1e-9)
    np.testing.assert_allclose(cov, A, atol=1e-9)


def test_bad_arguments_are_named():
    eye = np.eye(2)
    with pytest.raises(ValueError, match="eps"):
        UnbalancedGaussianEOT(np.zeros(2), eye, np.zeros(2), eye, -1.0)
    with pytest.raises(ValueError, match="tau_target"):
        UnbalancedGaussianEOT(np.zeros(2), eye, np.zeros(2), eye, 1.0, None, 0.0)
    with pytest.raises(ValueError, match="entropy"):
        UnbalancedGaussianEOT(np.zeros(2), eye, np.zeros(2), eye, 1.0, entropy="renyi")
    with pytest.raises(ValueError, match="tau_source"):
        UnbalancedGaussianEOT(np.zeros(2), eye, np.zeros(2), eye, 1.0, 1.0, 1.0, entropy="lebesgue")
    with pytest.raises(ValueError, match="target_cov"):
        UnbalancedGaussianEOT(np.zeros(2), eye, np.zeros(2), np.eye(3), 1.0)
