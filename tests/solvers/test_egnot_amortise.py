"""EgNOT's amortised sampler against a potential with closed-form conditionals, and its life cycle."""

import numpy as np
import pytest
import torch
from torch import nn

import neurot

EPS = 0.5
A = torch.tensor([[1.0, 0.5], [0.5, 2.0]])
B = torch.tensor([0.3, -0.2])


class QuadraticPotential(nn.Module):
    """``f(y) = -y^T A y / 2 + b^T y``. Under the quadratic cost its conditionals are Gaussian:
    ``pi_f(. | x) = N((I + A)^-1 (x + b), eps (I + A)^-1)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Parameter(A.clone()), nn.Parameter(B.clone())

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return -0.5 * ((y @ self.a) * y).sum(1) + y @ self.b


@pytest.fixture(scope="module")
def quadratic_solver():
    """An EgNOT whose potential is (to 1e-9) the quadratic above: one training step at a negligible rate."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
    return neurot.EgNOT(eps=EPS, potential=QuadraticPotential(), lr=1e-9).fit(x, y, steps=1)


@pytest.mark.parametrize(("family", "steps", "tolerance"), [("gaussian", 1500, 0.05), ("flow", 1000, 0.06)])
def test_one_step_draws_match_the_exact_conditionals(quadratic_solver, family, steps, tolerance):
    x = torch.tensor([[0.0, 0.0], [1.5, -1.0], [-2.0, 0.5]])
    solver = quadratic_solver.amortise(np.random.default_rng(1).normal(size=(4000, 2)), steps, family=family)
    draws = solver.sample(x, n_per_x=8000, steps=0, seed=2)  # [3, 8000, 2]
    inverse = torch.linalg.inv(torch.eye(2) + A)
    means, cov = (x + B) @ inverse, EPS * inverse
    scale = float(np.sqrt(EPS))
    assert (draws.mean(1) - means).norm(dim=1).max() < tolerance * scale
    for sample in draws:
        error = torch.linalg.matrix_norm(torch.cov(sample.T) - cov) / torch.linalg.matrix_norm(cov)
        assert error < 2 * tolerance


def test_the_sampler_is_saved_with_the_model_and_dropped_by_a_refit(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 1
    solver = neurot.EgNOT(eps=1.0, hidden=(16,), batch_size=64).fit(x, y, steps=5)
    before = solver.sample(x[:4], steps=0, seed=3)
    probe = torch.randn(8, 3)
    potential = solver.potential(probe)
    solver.amortise(x, steps=5, family="gaussian", batch_size=64)
    assert torch.equal(solver.potential(probe), potential)  # the potential is left as it was
    draws = solver.sample(x[:4], steps=0, seed=3)
    assert not torch.equal(draws, before)  # the sampler's draws, not the chains' starts
    loaded = neurot.EgNOT.load(solver.save(tmp_path / "model"))
    assert torch.equal(loaded.sample(x[:4], steps=0, seed=3), draws)
    assert loaded.sample(x[:4], steps=3, seed=3).shape == (4, 3)
    solver.fit(x, y, steps=2)
    assert solver.amortiser is None and torch.equal(solver.sample(x[:4], steps=0, seed=3), before)


def test_amortise_rejects_bad_input(quadratic_solver):
    with pytest.raises(ValueError, match="dimension D = 2"):
        quadratic_solver.amortise(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="family"):
        quadratic_solver.amortise(np.zeros((10, 2)), family="spline")
    with pytest.raises(neurot.solvers.base.NotFittedError):
        neurot.EgNOT(eps=1.0).amortise(np.zeros((10, 2)))
