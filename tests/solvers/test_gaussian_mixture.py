"""The mixture potential's closed forms against the numpy oracle and numerical integration."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from neurot.benchmarks.mixture import GaussianMixture, MixtureEOT, _gaussian_log_density, mixture_benchmark_pair
from neurot.solvers.gaussian_mixture import GaussianMixturePotential, cell_variances, spread_out_subset

COVARIANCES = ["diag", "full"]


def make_potential(dim=2, k=3, eps=0.7, seed=0, covariance="diag"):
    """Random weights, centres and spreads ``S_k`` with eigenvalues in (0, 1), so that ``exp(f / eps)`` is itself a
    normalisable mixture and the numpy oracle (which takes that mixture) applies."""
    torch.manual_seed(seed)
    potential = GaussianMixturePotential(dim, k, eps, covariance).double()
    with torch.no_grad():
        potential.log_weights.copy_(torch.randn(k))
        if covariance == "diag":
            potential.log_spreads.copy_(math.log(0.5) + 0.3 * torch.randn(k, dim))
        else:
            potential.raw_spread_tril.copy_(0.1 * torch.randn(k, dim, dim))
            potential.raw_spread_tril.diagonal(dim1=1, dim2=2).add_(math.log(0.6))
    assert torch.linalg.eigvalsh(potential.spreads()).max() < 1
    return potential


def as_oracle(potential):
    """The oracle of the same plan and ``log sum_k w_k``: ``exp(|y|^2 / (2 eps)) a_k N(y; r_k, eps S_k) = w_k N(y; m_k,
    s_k)`` with ``s_k = eps S_k (I - S_k)^{-1}``, ``m_k = (I - S_k)^{-1} r_k``, ``w_k = a_k N(0; r_k, eps S_k) /
    N(0; m_k, s_k)``."""
    eps = potential.eps
    spreads = potential.spreads().detach().numpy()
    centres = potential.centres.detach().numpy()
    dim = centres.shape[1]
    inverse = np.linalg.inv(np.eye(dim) - spreads)
    covs = eps * spreads @ inverse
    covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))
    means = np.einsum("kij,kj->ki", inverse, centres)
    zero = np.zeros((1, dim))
    log_a = potential.log_weights.log_softmax(0).detach().numpy()
    log_w = log_a + _gaussian_log_density(zero, centres, eps * spreads)[0] - _gaussian_log_density(zero, means, covs)[0]
    source = GaussianMixture(np.ones(1), np.zeros((1, dim)), np.eye(dim)[None])
    return MixtureEOT(source, GaussianMixture(np.exp(log_w - logsumexp(log_w)), means, covs), eps), logsumexp(log_w)


def test_spread_factor_is_lower_triangular_with_positive_diagonal():
    potential = make_potential(dim=3, covariance="full")
    scale = potential.spread_tril().detach()
    assert torch.equal(scale, scale.tril()) and (torch.diagonal(scale, dim1=1, dim2=2) > 0).all()
    diag = make_potential(dim=3)
    np.testing.assert_allclose(torch.diagonal(diag.spreads(), dim1=1, dim2=2).detach().numpy(),
                               diag.log_spreads.exp().detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("covariance", COVARIANCES)
@pytest.mark.parametrize("dim", [2, 4])
def test_conditional_matches_the_full_covariance_oracle(covariance, dim):
    potential = make_potential(dim=dim, covariance=covariance)
    oracle, log_total_weight = as_oracle(potential)
    x = torch.randn(6, dim, dtype=torch.float64)
    log_beta, mu, v = potential.conditional(x)
    beta, mu_true, v_true = oracle.conditional_components(x.numpy())
    np.testing.assert_allclose(log_beta.exp().detach().numpy(), beta, atol=1e-10)
    np.testing.assert_allclose(mu.detach().numpy(), mu_true, atol=1e-10)
    v = v.detach().numpy()
    np.testing.assert_allclose(np.stack([np.diag(d) for d in v]) if covariance == "diag" else v, v_true, atol=1e-10)
    np.testing.assert_allclose(potential(x).detach().numpy() / potential.eps,
                               oracle.potential.log_prob(x.numpy()) + log_total_weight, atol=1e-10)


def test_one_component_holds_a_conditional_wider_than_eps():
    """``S > I``: the exact plan between N(0, 1) and N(0, 9) at eps = 0.1 has conditional variance ~0.3 > eps, which
    no ``exp(f / eps)`` that is itself a mixture (``S < I``) gives. One component with ``S = 3`` does."""
    potential = GaussianMixturePotential(1, 1, 0.1).double()
    with torch.no_grad():
        potential.centres.zero_()
        potential.log_spreads.fill_(math.log(3.0))
    x = torch.zeros(100_000, 1, dtype=torch.float64)
    samples = potential.sample_conditional(x, torch.Generator().manual_seed(0))
    assert samples.var().item() == pytest.approx(0.3, rel=0.02)
    assert potential.conditional(x[:1])[2].item() == pytest.approx(0.3)


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
    oracle, _ = as_oracle(potential)
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
    """With centres and spreads of the exact potential, the fixed point in log a is the true weights (mapped from the
    benchmark's ``exp(f / eps) = sum w_k N(m_k, s_k)`` as in :func:`as_oracle`, the other way)."""
    eps = 1.0
    problem = mixture_benchmark_pair(2, eps, seed=1)
    rng = np.random.default_rng(0)
    x, y = (torch.tensor(a) for a in (problem.sample_source(40_000, rng), problem.sample_target(40_000, rng)))
    covs, means = problem.potential.covs, problem.potential.means
    spreads = covs @ np.linalg.inv(covs + eps * np.eye(2))                            # S = s (s + eps I)^{-1}
    centres = np.einsum("kij,kj->ki", np.eye(2) - spreads, means)                     # r = (I - S) m
    zero = np.zeros((1, 2))
    log_a = (np.log(problem.potential.weights) + _gaussian_log_density(zero, means, covs)[0]
             - _gaussian_log_density(zero, centres, eps * spreads)[0])
    potential = GaussianMixturePotential(2, 5, eps, "full").double()
    with torch.no_grad():
        potential.centres.copy_(torch.tensor(centres))
        raw = torch.linalg.cholesky(torch.tensor(0.5 * (spreads + np.swapaxes(spreads, 1, 2))))
        raw.diagonal(dim1=1, dim2=2).log_()
        potential.raw_spread_tril.copy_(raw)
        potential.log_weights.copy_(torch.tensor([3.0, -2.0, 0.0, 1.0, -4.0]))
    potential.balance_weights(x, y, iterations=300)
    np.testing.assert_allclose(potential.log_weights.detach().softmax(0).numpy(), np.exp(log_a - logsumexp(log_a)),
                               atol=0.02)
