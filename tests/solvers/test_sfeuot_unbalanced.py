"""SF-EUOT with a soft target marginal: the exact unbalanced Gaussian solution, and robustness to outliers."""

import numpy as np
import pytest

import neurot
from neurot.benchmarks import UnbalancedGaussianEOT, bw2_uvp, gaussian_benchmark_pair
from neurot.divergences import CONJUGATES

SMALL = {"hidden": (64, 64), "generator_hidden": (64, 64)}


@pytest.fixture(scope="module")
def unbalanced_2d():
    """A shifted Gaussian pair where tau = 1 moves the target marginal far from Q (BW2-UVP about 75 %)."""
    pair = gaussian_benchmark_pair(2, eps=0.5, seed=0)
    shift = np.array([2.0, 1.0])
    oracle = UnbalancedGaussianEOT(pair.source_mean, pair.source_cov, pair.target_mean + shift, pair.target_cov,
                                   eps=0.5, tau_source=None, tau_target=1.0, entropy="lebesgue")
    rng = np.random.default_rng(0)
    x, y = pair.sample_source(20_000, rng), pair.sample_target(20_000, rng) + shift
    solver = neurot.SFEUOT(eps=0.5, tau=1.0, psi="kl", **SMALL).fit(x, y, steps=600, seed=0)
    return pair, oracle, solver, y


def test_target_marginal_matches_unbalanced_gaussian(unbalanced_2d):
    """Tolerances: marginal mean within 0.05, covariance entries within 0.1, plan BW2-UVP < 2 % against the oracle;
    the balanced plan's marginal (Q itself) is 75 % away, so the test can fail."""
    pair, oracle, solver, y = unbalanced_2d
    x = pair.sample_source(20_000, np.random.default_rng(2))
    samples = solver.sample(x, seed=3).numpy()
    _, mean, cov = oracle.target_marginal
    np.testing.assert_allclose(samples.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.1)
    assert bw2_uvp(np.concatenate([x, samples], 1), oracle.plan_mean, oracle.plan_cov) < 2.0
    assert bw2_uvp(samples, y.mean(0), np.cov(y.T)) > 20.0


def test_target_weights_match_the_exact_density_ratio(unbalanced_2d):
    """``target_weight(y)`` estimates ``d pi_1 / dQ = exp(-g / tau)``: mean (the transported mass, 1) within 0.05,
    mean relative error over Q below 10 %."""
    _, oracle, solver, y = unbalanced_2d
    weights = solver.target_weight(y[:5000]).numpy()
    exact = oracle.target_density_ratio(y[:5000])
    assert weights.mean() == pytest.approx(1.0, abs=0.05)
    assert np.abs(weights - exact).mean() / exact.mean() < 0.1


def outlier_data(n=20_000, seed=0):
    """Source N(0, I); target 98 % N((0.5, 0), 0.25 I) and 2 % N((8, 8), 0.25 I)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    y = np.array([0.5, 0.0]) + 0.5 * rng.standard_normal((n, 2))
    outlier = rng.random(n) < 0.02
    y[outlier] = np.array([8.0, 8.0]) + 0.5 * rng.standard_normal((outlier.sum(), 2))
    return x, y, outlier


@pytest.mark.parametrize("psi", sorted(CONJUGATES))
def test_outliers_are_discarded(psi):
    """Done-when target: at most 0.5 % of samples near the outliers and the inlier mean within 0.15 of the truth
    (the exact unbalanced solution for the inlier Gaussian, (0.4, 0) for KL; the raw inlier mean is (0.5, 0))."""
    x, y, outlier = outlier_data()
    solver = neurot.SFEUOT(eps=0.1, tau=1.0, psi=psi, **SMALL).fit(x, y, steps=600, seed=0)
    samples = solver.sample(np.random.default_rng(1).standard_normal((20_000, 2)), seed=1).numpy()
    near = np.linalg.norm(samples - np.array([8.0, 8.0]), axis=1) < 3.0
    assert near.mean() <= 0.005
    truth = UnbalancedGaussianEOT(np.zeros(2), np.eye(2), [0.5, 0.0], 0.25 * np.eye(2), 0.1, None, 1.0,
                                  target_mass=0.98, entropy="lebesgue").target_marginal[1]
    assert np.linalg.norm(samples[~near].mean(0) - truth) < 0.15
    assert np.linalg.norm(samples[~near].mean(0) - np.array([0.5, 0.0])) < 0.15
    weights = solver.target_weight(y).numpy()
    assert weights[outlier].mean() < 0.05
    assert weights[~outlier].mean() == pytest.approx(1.0 / 0.98, abs=0.05)


def test_balanced_plan_carries_the_outliers_along():
    """The contrast of the outlier test: a balanced plan must move every unit of mass, so the exact one sends the
    outliers' share (2.0 % of this sample) to them. The mixture potential samples its plan exactly, no MCMC:
    measured (session 7's parametrisation) 2.96 % after 1 step, 3.3 % after 100, 2.2 % after 1000, 1.94 % after
    5000; required after 1000: within [1.5 %, 3 %], against at most 0.5 % for the unbalanced solver above."""
    x, y, outlier = outlier_data()
    solver = neurot.LightSB(eps=0.1).fit(x, y, steps=1000, seed=0)
    samples = solver.sample(np.random.default_rng(1).standard_normal((20_000, 2)), seed=1).numpy()
    near = np.linalg.norm(samples - np.array([8.0, 8.0]), axis=1) < 3.0
    assert 0.015 <= near.mean() <= 0.03 and 0.015 < outlier.mean() < 0.025


def test_outlier_toy_set_and_example_config():
    from pathlib import Path

    import torch

    from neurot.config import read_config
    from neurot.data.toy import OUTLIER_CENTRE, TOY_SETS
    from neurot.runs import make_solver

    points = TOY_SETS["gaussian_outliers"](50_000, torch.Generator().manual_seed(0)).numpy()
    near = np.linalg.norm(points - np.array(OUTLIER_CENTRE), axis=1) < 3.0
    assert near.mean() == pytest.approx(0.02, abs=0.003)
    config = read_config(Path(__file__).parents[2] / "examples" / "outliers.toml")
    assert config["data"]["target"] == "gaussian_outliers"
    solver = make_solver(config["solver"])
    assert isinstance(solver, neurot.SFEUOT) and solver.config.tau == 1.0
