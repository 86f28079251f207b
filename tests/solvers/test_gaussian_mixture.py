"""The mixture potential's closed forms against the numpy oracle and numerical integration."""

import math

import numpy as np
import pytest
import torch

from neurot.benchmarks.mixture import GaussianMixture, MixtureEOT, mixture_benchmark_pair
from neurot.solvers.gaussian_mixture import GaussianMixturePotential, cell_variances, spread_out_subset

COVARIANCES = ["diag", "full"]


def make_potential(dim=2, k=3, eps=0.7, seed=0, covariance="diag"):
    torch.manual_seed(seed)
    potential = GaussianMixturePotential(dim, k, eps, covariance).double()
    with torch.no_grad():
        potential.log_weights.copy_(torch.randn(k))
        if covariance == "diag":
            potential.log_variances.copy_(0.5 * torch.randn(k, dim))
        else:
            potential.raw_scale_tril.copy_(0.5 * torch.randn(k, dim, dim))
    return potential


def as_oracle(potential):
    weights = potential.log_weights.softmax(0).detach().numpy()
    covs = potential.covariances().detach().numpy()
    dim = potential.means.shape[1]
    source = GaussianMixture(np.ones(1), np.zeros((1, dim)), np.eye(dim)[None])
    return MixtureEOT(source, GaussianMixture(weights, potential.means.detach().numpy(), covs), potential.eps)


def test_full_covariance_factor_is_lower_triangular_with_positive_diagonal():
    potential = make_potential(dim=3, covariance="full")
    scale = potential.scale_tril().detach()
    assert torch.equal(scale, scale.tril()) and (torch.diagonal(scale, dim1=1, dim2=2) > 0).all()
    diag = make_potential(dim=3)
    np.testing.assert_allclose(torch.diagonal(diag.covariances(), dim1=1, dim2=2).detach().numpy(),
                               diag.log_variances.exp().detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("covariance", COVARIANCES)
@pytest.mark.parametrize("dim", [2, 4])
def test_conditional_matches_the_full_covariance_oracle(covariance, dim):
    potential = make_potential(dim=dim, covariance=covariance)
    oracle = as_oracle(potential)
    x = torch.randn(6, dim, dtype=torch.float64)
    log_beta, mu, v = potential.conditional(x)
    beta, mu_true, v_true = oracle.conditional_components(x.numpy())
    np.testing.assert_allclose(log_beta.exp().detach().numpy(), beta, atol=1e-10)
    np.testing.assert_allclose(mu.detach().numpy(), mu_true, atol=1e-10)
    v = v.detach().numpy()
    np.testing.assert_allclose(np.stack([np.diag(d) for d in v]) if covariance == "diag" else v, v_true, atol=1e-10)
    np.testing.assert_allclose(potential(x).detach().numpy() / potential.eps, oracle.potential.log_prob(x.numpy()),
                               atol=1e-10)


def test_full_conditional_covariance_is_accurate_when_s_is_tiny_against_eps():
    """The push-through factor avoids the cancellation of ``eps (I - eps (S + eps I)^{-1})``."""
    potential = make_potential(dim=3, eps=10.0, covariance="full")
    with torch.no_grad():
        potential.raw_scale_tril.diagonal(dim1=1, dim2=2).sub_(8.0)
    _, _, v = as_oracle(potential).conditional_components(np.zeros((1, 3)))
    np.testing.assert_allclose(potential.conditional(torch.zeros(1, 3, dtype=torch.float64))[2].detach().numpy(), v,
                               rtol=1e-8)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_log_partition_matches_quadrature_in_1d(covariance):
    potential = make_potential(dim=1, k=2, eps=0.5, covariance=covariance)
    grid = torch.linspace(-15, 15, 200_001, dtype=torch.float64)[:, None]
    for x0 in (-1.0, 0.3, 2.0):
        x = torch.full_like(grid, x0)
        integrand = torch.exp((potential(grid) - 0.5 * (x - grid).square().sum(1)) / potential.eps)
        numeric = math.log(torch.trapezoid(integrand, grid[:, 0]).item())
        assert potential.log_partition(torch.tensor([[x0]], dtype=torch.float64)).item() == pytest.approx(numeric,
                                                                                                            abs=1e-6)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_log_partition_matches_quadrature_in_2d(covariance):
    potential = make_potential(dim=2, k=3, eps=0.5, covariance=covariance)
    axis = torch.linspace(-14, 14, 1401, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    log_f = potential(grid)
    for x0 in ([0.0, 0.0], [1.0, -2.0]):
        x = torch.tensor([x0], dtype=torch.float64)
        integrand = torch.exp((log_f - 0.5 * (x - grid).square().sum(1)) / potential.eps).reshape(len(axis), len(axis))
        numeric = math.log(torch.trapezoid(torch.trapezoid(integrand, axis, dim=1), axis).item())
        assert potential.log_partition(x).item() == pytest.approx(numeric, abs=1e-6)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_exact_samples_have_the_oracle_moments(covariance):
    potential = make_potential(covariance=covariance)
    oracle = as_oracle(potential)
    x = torch.tensor([[0.5, -0.5]], dtype=torch.float64).repeat(40_000, 1)
    samples = potential.sample_conditional(x, torch.Generator().manual_seed(0)).detach().numpy()
    np.testing.assert_allclose(samples.mean(0), oracle.conditional_mean(x[:1].numpy())[0], atol=0.02)
    np.testing.assert_allclose(np.cov(samples.T), oracle.conditional_cov(x[:1].numpy())[0], atol=0.03)


def test_spread_out_subset_gives_a_small_far_cluster_a_component():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(5000, 2, generator=generator)
    points[:100] += 8.0  # 2 % of the points, far away
    chosen = spread_out_subset(points, 10, generator)
    assert chosen.shape == (10, 2)
    assert ((chosen - 8.0).norm(dim=1) < 4).any()
    assert all((row == points).all(1).any() for row in chosen)
    with pytest.raises(ValueError, match="cannot choose"):
        spread_out_subset(points[:3], 10)


def test_cell_variances_are_the_mean_squared_distance_per_dimension_in_each_cell():
    """Cell of (0, 0): points at distance 1 and 3 (mean square 5, over D = 2: 2.5); of (10, 0): one point at
    distance 2 (2.0); of (0, 10): none (0)."""
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.tensor([[1.0, 0.0], [0.0, -3.0], [10.0, 2.0]])
    torch.testing.assert_close(cell_variances(points, centres), torch.tensor([2.5, 2.0, 0.0]))


def test_balance_weights_recovers_the_true_weights_of_the_benchmark_potential():
    """With means and covariances of the exact potential, the fixed point in log w is the true weights."""
    problem = mixture_benchmark_pair(2, 1.0, seed=1)
    rng = np.random.default_rng(0)
    x, y = (torch.tensor(a) for a in (problem.sample_source(40_000, rng), problem.sample_target(40_000, rng)))
    potential = GaussianMixturePotential(2, 5, 1.0, "full").double()
    with torch.no_grad():
        potential.means.copy_(torch.tensor(problem.potential.means))
        raw = torch.linalg.cholesky(torch.tensor(problem.potential.covs))
        raw.diagonal(dim1=1, dim2=2).log_()
        potential.raw_scale_tril.copy_(raw)
        potential.log_weights.copy_(torch.tensor([3.0, -2.0, 0.0, 1.0, -4.0]))
    potential.balance_weights(x, y, iterations=300)
    np.testing.assert_allclose(potential.log_weights.detach().softmax(0).numpy(), problem.potential.weights, atol=0.02)
