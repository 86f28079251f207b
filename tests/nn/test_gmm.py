"""The mixture potential's closed forms against the numpy oracle and numerical integration."""

import math

import numpy as np
import pytest
import torch

from neurot.benchmarks.mixture import GaussianMixture, MixtureEOT
from neurot.nn import GaussianMixturePotential


def make_potential(dim=2, k=3, eps=0.7, seed=0):
    torch.manual_seed(seed)
    potential = GaussianMixturePotential(dim, k, eps).double()
    with torch.no_grad():
        potential.log_weights.copy_(torch.randn(k))
        potential.log_variances.copy_(0.5 * torch.randn(k, dim))
    return potential


def as_oracle(potential):
    weights = potential.log_weights.softmax(0).detach().numpy()
    covs = np.stack([np.diag(v) for v in potential.log_variances.exp().detach().numpy()])
    dim = potential.means.shape[1]
    source = GaussianMixture(np.ones(1), np.zeros((1, dim)), np.eye(dim)[None])
    return MixtureEOT(source, GaussianMixture(weights, potential.means.detach().numpy(), covs), potential.eps)


def test_conditional_matches_the_full_covariance_oracle():
    potential = make_potential()
    oracle = as_oracle(potential)
    x = torch.randn(6, 2, dtype=torch.float64)
    log_beta, mu, v = potential.conditional(x)
    beta, mu_true, v_true = oracle.conditional_components(x.numpy())
    np.testing.assert_allclose(log_beta.exp().detach().numpy(), beta, atol=1e-10)
    np.testing.assert_allclose(mu.detach().numpy(), mu_true, atol=1e-10)
    np.testing.assert_allclose(np.stack([np.diag(d) for d in v.detach().numpy()]), v_true, atol=1e-10)


def test_log_partition_matches_quadrature_in_1d():
    potential = make_potential(dim=1, k=2, eps=0.5)
    grid = torch.linspace(-15, 15, 200_001, dtype=torch.float64)[:, None]
    for x0 in (-1.0, 0.3, 2.0):
        x = torch.full_like(grid, x0)
        integrand = torch.exp((potential(grid) - 0.5 * (x - grid).square().sum(1)) / potential.eps)
        numeric = math.log(torch.trapezoid(integrand, grid[:, 0]).item())
        assert potential.log_partition(torch.tensor([[x0]], dtype=torch.float64)).item() == pytest.approx(numeric,
                                                                                                            abs=1e-6)


def test_exact_samples_have_the_oracle_moments():
    potential = make_potential()
    oracle = as_oracle(potential)
    x = torch.tensor([[0.5, -0.5]], dtype=torch.float64).repeat(40_000, 1)
    samples = potential.sample_conditional(x, torch.Generator().manual_seed(0)).detach().numpy()
    np.testing.assert_allclose(samples.mean(0), oracle.conditional_mean(x[:1].numpy())[0], atol=0.02)
    np.testing.assert_allclose(np.cov(samples.T), oracle.conditional_cov(x[:1].numpy())[0], atol=0.03)
