"""General and latent costs: a callable quadratic behaves like the built-in one; the latent plan is exact."""

import numpy as np
import pytest
import torch

import neurot
from neurot.benchmarks.gaussian import GaussianEOT, _random_rotation, random_gaussian
from neurot.benchmarks.metrics import bw2_uvp
from neurot.costs import latent


def callable_quadratic(x, y):
    return 0.5 * (x - y).square().sum(1)


def test_callable_quadratic_trains_like_the_builtin_quadratic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1
    # gaussian_part: the built-in cost adds the data's Gaussian potential, a callable cannot.
    options = dict(eps=0.5, hidden=(16,), batch_size=64, sampler="mala", langevin_steps=3, gaussian_part=False)
    builtin = neurot.EgNOT(cost="quadratic", **options).fit(x, y, steps=5, seed=3)
    custom = neurot.EgNOT(cost=callable_quadratic, **options).fit(x, y, steps=5, seed=3)
    for a, b in zip(builtin.history, custom.history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
    for a, b in zip(builtin.potential.parameters(), custom.potential.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    x_test = torch.zeros(3, 2)
    torch.testing.assert_close(builtin.sample(x_test, seed=1, steps=5), custom.sample(x_test, seed=1, steps=5))


def test_sampler_defaults_to_mala_and_rejects_the_gaussian_split_for_other_costs():
    assert type(neurot.EgNOT(eps=1.0).kernel).__name__ == "GaussianSplitMALA"
    assert type(neurot.EgNOT(eps=1.0, cost=callable_quadratic).kernel).__name__ == "MALA"
    with pytest.raises(ValueError, match="sampler='split_mala' integrates the Gaussian factor"):
        neurot.EgNOT(eps=1.0, cost=callable_quadratic, sampler="split_mala")
    with pytest.raises(ValueError, match="unknown LightSB options"):  # the mixture's closed forms: quadratic only
        neurot.EgNOT(eps=1.0, cost=callable_quadratic, potential="gmm")
    with pytest.raises(TypeError, match="cost must be a name"):
        neurot.EgNOT(eps=1.0, cost=3)


def test_custom_cost_is_saved_as_custom_and_required_on_load(tmp_path):
    generator = torch.nn.Linear(2, 3)
    solver = neurot.EgNOT(eps=1.0, cost=latent(generator), hidden=(8,), batch_size=16, langevin_steps=2)
    solver.fit(np.random.default_rng(0).normal(size=(50, 3)), np.random.default_rng(1).normal(size=(50, 2)), steps=2)
    assert not any(p.requires_grad for p in generator.parameters())
    solver.save(tmp_path / "model")
    with pytest.raises(ValueError, match=r"custom networks or costs \['cost'\]"):
        neurot.EgNOT.load(tmp_path / "model")
    loaded = neurot.EgNOT.load(tmp_path / "model", cost=solver.cost)
    x = torch.zeros(4, 3)
    assert loaded.start == "target"
    assert torch.equal(solver.sample(x, seed=0, steps=3), loaded.sample(x, seed=0, steps=3))
    assert loaded.sample(x, n_per_x=5, steps=1).shape == (4, 5, 2)


def latent_problem(dim: int, eps: float, seed: int):
    """P = N(a, A) on x in R^D, Q = N(0, I) on z, G(z) = W z with W orthogonal, so c(x, z) = 1/2 |W^T x - z|^2 and
    the plan of (W^T x, z) is the Gaussian EOT plan between W^T P and Q."""
    rng = np.random.default_rng(seed)
    _, source_cov = random_gaussian(dim, rng)
    source_mean = rng.normal(size=dim)
    w = _random_rotation(dim, rng)
    rotated = GaussianEOT(w.T @ source_mean, w.T @ source_cov @ w, np.zeros(dim), np.eye(dim), eps)
    generator = torch.nn.Linear(dim, dim, bias=False)
    with torch.no_grad():
        generator.weight.copy_(torch.as_tensor(w))
    x = rng.multivariate_normal(source_mean, source_cov, size=20_000)
    z = rng.normal(size=(20_000, dim))
    return rotated, w, generator, x, z


def latent_plan_error(dim: int, eps: float, steps: int, seed: int = 0) -> float:
    rotated, w, generator, x, z = latent_problem(dim, eps, seed)
    solver = neurot.EgNOT(eps=eps, cost=latent(generator), hidden=(128, 128))
    solver.fit(x, z, steps=steps, seed=0)
    x_test = rotated.sample_source(5000, np.random.default_rng(seed + 1)) @ w.T
    z_test = solver.sample(x_test, seed=3, steps=100).numpy()
    return bw2_uvp(np.concatenate([x_test @ w, z_test], 1), rotated.plan_mean, rotated.plan_cov)


def test_latent_cost_plan_matches_closed_form_2d():
    """Issue #5's bar: with G(z) = W z (W orthogonal) and Q = N(0, I) the latent-cost plan has BW2-UVP <= 1 %."""
    assert latent_plan_error(2, eps=1.0, steps=400) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_latent_cost_plan_matches_closed_form_4d(eps):
    assert latent_plan_error(4, eps=eps, steps=600) <= 1.0
