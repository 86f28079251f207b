"""The mixture benchmark's exact conditionals, cross-checked against the independent Gaussian closed form."""

import numpy as np
import pytest
import torch

from neurot.benchmarks.gaussian import GaussianEOT
from neurot.benchmarks.mixture import (
    DATA_ENV,
    GaussianMixture,
    MixtureEOT,
    benchmark_pair,
    load_official_pair,
    mixture_benchmark_pair,
)


@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_single_component_plan_is_the_gaussian_closed_form(eps):
    """P = N(a, A) and exp(f / eps) = N(m, S) make Q Gaussian; pi_f must then be Janati et al.'s EOT plan."""
    rng = np.random.default_rng(0)
    dim = 3
    a, m = rng.normal(size=dim), rng.normal(size=dim)
    A = np.cov(rng.normal(size=(dim, 50))) + 0.5 * np.eye(dim)
    S = np.cov(rng.normal(size=(dim, 50))) + 0.2 * np.eye(dim)
    plan = MixtureEOT(GaussianMixture(np.ones(1), a[None], A[None]), GaussianMixture(np.ones(1), m[None], S[None]), eps)
    gain = S @ np.linalg.inv(S + eps * np.eye(dim))             # mu(x) = gain x + (S + eps I)^{-1} eps m
    b = gain @ a + eps * np.linalg.solve(S + eps * np.eye(dim), m)
    V = eps * gain
    B = gain @ A @ gain.T + V
    truth = GaussianEOT(a, A, b, B, eps)
    x = rng.normal(size=(5, dim))
    np.testing.assert_allclose(plan.conditional_mean(x), truth.conditional_mean(x), atol=1e-8)
    np.testing.assert_allclose(plan.conditional_cov(x), np.broadcast_to(truth.conditional_cov, (5, dim, dim)),
                               atol=1e-8)


def test_sampled_conditional_moments_match_the_formulas():
    problem = mixture_benchmark_pair(3, eps=1.0, seed=1)
    rng = np.random.default_rng(0)
    x = problem.sample_source(4, rng)
    samples = problem.sample_conditional(x, 40_000, rng)
    np.testing.assert_allclose(samples.mean(1), problem.conditional_mean(x), atol=0.03)
    covs = np.stack([np.cov(s.T) for s in samples])
    np.testing.assert_allclose(covs, problem.conditional_cov(x), atol=0.05)


def test_recipe_is_seeded_and_follows_the_construction():
    one, two = mixture_benchmark_pair(4, 1.0, seed=3), mixture_benchmark_pair(4, 1.0, seed=3)
    np.testing.assert_array_equal(one.potential.means, two.potential.means)
    assert len(one.source.weights) == 3 and len(one.potential.weights) == 5
    assert set(np.unique(one.source.means)) <= {-2.0, 0.0, 2.0}
    np.testing.assert_allclose(one.source.covs, 0.25 * np.eye(4)[None].repeat(3, 0))


def _write_official_files(directory, problem, dim, eps):
    for prefix, mixture, suffix in [("input", problem.source, f"dim_{dim}"),
                                    ("potential", problem.potential, f"dim_{dim}_eps_{eps:g}")]:
        for part, value in [("probs", mixture.weights), ("mus", mixture.means), ("sigmas", mixture.covs)]:
            torch.save(torch.tensor(value, dtype=torch.float32), directory / f"{prefix}_{part}_{suffix}.torch")


def test_official_loader_reads_files_written_like_the_published_ones(tmp_path, monkeypatch):
    problem = mixture_benchmark_pair(2, 10.0, seed=0)
    _write_official_files(tmp_path, problem, 2, 10.0)
    loaded = load_official_pair(2, 10.0, tmp_path)
    np.testing.assert_allclose(loaded.potential.covs, problem.potential.covs, rtol=1e-6)
    x = np.zeros((1, 2))
    np.testing.assert_allclose(loaded.conditional_mean(x), problem.conditional_mean(x), rtol=1e-5)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    np.testing.assert_allclose(benchmark_pair(2, 10.0).source.means, problem.source.means, rtol=1e-6)
    with pytest.raises(FileNotFoundError, match="dim_16"):
        load_official_pair(16, 10.0, tmp_path)


def test_official_loader_needs_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=DATA_ENV):
        load_official_pair(2, 1.0, tmp_path / "nowhere")
