"""DataSource: moments of a finite sample and of a callable."""

import numpy as np
import pytest
import torch

from neurot.data import as_source


@pytest.mark.parametrize("chunk_size", [7, 8192])
def test_moments_of_a_finite_sample_are_its_own(chunk_size):
    points = torch.randn(500, 2, 3, generator=torch.Generator().manual_seed(0)) * 3 + 10
    mean, cov = as_source("x", points, flat=False).moments(1000, chunk_size=chunk_size)
    rows = points.flatten(1).double()
    torch.testing.assert_close(mean, rows.mean(0))
    torch.testing.assert_close(cov, torch.cov(rows.T, correction=0))


def test_moments_of_a_callable_estimate_the_distribution():
    rng = np.random.default_rng(0)
    root = np.array([[1.0, 0.0], [0.5, 2.0]])
    source = as_source("x", lambda n: rng.normal(size=(n, 2)) @ root.T + [1.0, -2.0])
    mean, cov = source.moments(100_000, chunk_size=30_000)
    np.testing.assert_allclose(mean.numpy(), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(cov.numpy(), root @ root.T, atol=0.06)


def test_moments_of_a_large_sample_use_n_distinct_rows():
    points = 2.0 ** torch.arange(10.0)[:, None]  # a sum of distinct rows has one bit per row
    for seed in range(5):
        mean, _ = as_source("x", points).moments(4, generator=torch.Generator().manual_seed(seed))
        assert bin(round(4 * mean.item())).count("1") == 4
