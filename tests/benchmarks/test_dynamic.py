"""The dynamic-OT oracles against independent computations (scipy, brute force, the Brenier map)."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal

from neurot.benchmarks import (
    GaussianMIProblem,
    brenier_map,
    discrete_ot_cost,
    gaussian_log_density_ratio,
    gaussian_mutual_information,
    gaussian_ot_cost,
    l2_uvp,
    random_gaussian,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a, cov_a = random_gaussian(3, rng)
    _, cov_b = random_gaussian(3, rng)
    return a, cov_a, np.array([1.0, -0.5, 0.2]), cov_b


def test_log_density_ratio_matches_scipy(pair):
    a, cov_a, b, cov_b = pair
    x = np.random.default_rng(1).normal(size=(50, 3)) * 2
    expected = multivariate_normal(b, cov_b).logpdf(x) - multivariate_normal(a, cov_a).logpdf(x)
    np.testing.assert_allclose(gaussian_log_density_ratio(x, a, cov_a, b, cov_b), expected, rtol=1e-10, atol=1e-10)


def test_ot_cost_is_half_the_brenier_transport_cost(pair):
    a, cov_a, b, cov_b = pair
    x = np.random.default_rng(2).multivariate_normal(a, cov_a, size=200_000)
    moved = 0.5 * np.square(brenier_map(x, a, cov_a, b, cov_b) - x).sum(1).mean()
    assert gaussian_ot_cost(a, cov_a, b, cov_b) == pytest.approx(moved, rel=0.01)


def test_ot_cost_of_a_translation():
    assert gaussian_ot_cost([0, 0], np.eye(2), [3, 4], np.eye(2)) == pytest.approx(12.5)


def test_mutual_information_closed_forms():
    rho, d = 0.7, 3
    cov = np.block([[np.eye(d), rho * np.eye(d)], [rho * np.eye(d), np.eye(d)]])
    assert gaussian_mutual_information(cov, d) == pytest.approx(-d / 2 * np.log(1 - rho**2))
    assert gaussian_mutual_information(np.eye(4), 2) == pytest.approx(0.0, abs=1e-12)
    cross = np.array([[0.3, 0.1], [-0.2, 0.4]])
    joint = np.block([[np.eye(2), cross], [cross.T, np.eye(2)]])
    expected = -0.5 * np.log(np.linalg.det(np.eye(2) - cross @ cross.T))
    assert gaussian_mutual_information(joint, 2) == pytest.approx(expected)


@pytest.mark.parametrize("dim", [2, 8, 40])
def test_mi_problem_closed_form(dim):
    """-1/2 log det Sigma = -(D / 4) log(1 - rho^2) = the Gaussian KL to N(0, I) = I(X; Y) of the [X, Y] layout."""
    problem = GaussianMIProblem(dim, 0.8)
    cov = problem.cov
    assert problem.mutual_information == pytest.approx(-dim / 4 * np.log(1 - 0.8**2), rel=1e-12)
    kl = 0.5 * (np.trace(cov) - dim - np.linalg.slogdet(cov)[1])
    assert problem.mutual_information == pytest.approx(kl, rel=1e-12)
    order = np.r_[0:dim:2, 1:dim:2]  # X (even coordinates) first, then Y
    assert problem.mutual_information == pytest.approx(gaussian_mutual_information(cov[np.ix_(order, order)],
                                                                                   dim // 2), rel=1e-12)
    assert np.allclose(cov[:2, :2], [[1, 0.8], [0.8, 1]]) and np.count_nonzero(cov) == 2 * dim


def test_mi_problem_samples_and_log_ratio():
    """Samples have the block covariance; minus the mean exact log-ratio over them is the MI (Monte Carlo, 1 %)."""
    problem = GaussianMIProblem(8, 0.8)
    x, y = problem.sample(200_000, np.random.default_rng(0))
    pairs = np.stack([x, y], axis=2).reshape(len(x), 8)
    assert np.abs(np.cov(pairs.T) - problem.cov).max() < 0.02
    assert -problem.log_density_ratio(x, y).mean() == pytest.approx(problem.mutual_information, rel=0.01)
    joint = np.hstack([x[:50], y[:50]])
    order = np.r_[0:8:2, 1:8:2]
    layout_cov = problem.cov[np.ix_(order, order)]
    expected = multivariate_normal(np.zeros(8), np.eye(8)).logpdf(joint) - multivariate_normal(
        np.zeros(8), layout_cov).logpdf(joint)
    np.testing.assert_allclose(problem.log_density_ratio(x[:50], y[:50]), expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="shape"):
        problem.log_density_ratio(x[:5, :3], y[:5, :3])


@pytest.mark.parametrize(("options", "match"), [({"dim": 3}, "even"), ({"dim": 4, "rho": 1.0}, "rho"),
                                                ({"dim": 0}, "dim")])
def test_mi_problem_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        GaussianMIProblem(**options)


def test_discrete_ot_cost_matches_assignment_and_brute_force():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 1
    cost = 0.5 * np.square(x[:, None] - y[None]).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    assert discrete_ot_cost(x, y) == pytest.approx(cost[rows, cols].mean(), rel=1e-9)
    small_x, small_y = x[:6], y[:6]
    small = 0.5 * np.square(small_x[:, None] - small_y[None]).sum(-1)
    best = min(small[range(6), list(p)].mean() for p in itertools.permutations(range(6)))
    assert discrete_ot_cost(small_x, small_y) == pytest.approx(best, rel=1e-9)


def test_discrete_ot_cost_weights_and_errors():
    x = np.array([[0.0], [1.0]])
    assert discrete_ot_cost(x, np.array([[0.0]])) == pytest.approx(0.25)
    assert discrete_ot_cost(x, x, x_weights=[1.0, 0.0], y_weights=[0.0, 1.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same dimension"):
        discrete_ot_cost(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="x_weights"):
        discrete_ot_cost(x, x, x_weights=[-1.0, 2.0])


def test_l2_uvp():
    truth = np.zeros((4, 2))
    assert l2_uvp(truth, truth, 1.0) == 0.0
    assert l2_uvp(np.ones((4, 2)), truth, 4.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="target_variance"):
        l2_uvp(truth, truth, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        l2_uvp(np.zeros((3, 2)), truth, 1.0)


def test_input_errors_name_the_argument(pair):
    a, cov_a, b, cov_b = pair
    with pytest.raises(ValueError, match="x must have shape"):
        gaussian_log_density_ratio(np.zeros((5, 2)), a, cov_a, b, cov_b)
    with pytest.raises(ValueError, match="dim_x"):
        gaussian_mutual_information(np.eye(2), 2)
