"""EgNOT on points with several axes: images with the conv potential, images to latent codes, annealed chains."""

import pytest
import torch

import neurot
from neurot.costs import latent
from neurot.nn import ConvPotential


def images(n, seed, shift=0.0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 8, 8, generator=generator) * 2 - 1 + shift).clamp(-1, 1)


@pytest.fixture(scope="module")
def image_solver():
    solver = neurot.EgNOT(eps=0.1, potential="conv", channels=(8, 8), batch_size=16, langevin_steps=3,
                          start_noise=0.05, anneal=0.01)
    return solver.fit(images(64, 0), images(64, 1, shift=0.5), steps=3, seed=0)


def test_image_plan_shapes_and_starts(image_solver):
    assert isinstance(image_solver.potential, ConvPotential) and image_solver.dim == (3, 8, 8)
    assert image_solver.start == "source"
    x = images(5, 2)
    assert image_solver.sample(x, steps=4, seed=0).shape == (5, 3, 8, 8)
    assert image_solver.sample(x, n_per_x=3, steps=4, seed=0).shape == (5, 3, 3, 8, 8)
    # no steps: the start itself, the source plus start_noise
    assert float((image_solver.sample(x, steps=0, seed=0) - x).std()) == pytest.approx(0.05, rel=0.1)
    with pytest.raises(ValueError, match=r"x must have shape \[N, 3, 8, 8\]"):
        image_solver.sample(torch.zeros(2, 3, 4, 4))


def test_image_solver_save_load_round_trip(image_solver, tmp_path):
    image_solver.save(tmp_path / "model")
    loaded = neurot.EgNOT.load(tmp_path / "model")
    x = images(4, 3)
    assert torch.equal(image_solver.sample(x, steps=5, seed=1), loaded.sample(x, steps=5, seed=1))


class FixedPotential(torch.nn.Module):
    """``f(y) = fn(y)`` with nothing to learn (one unused parameter gives the optimiser something to hold)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, y):
        return self.fn(y) + 0 * self.unused


def test_annealing_shrinks_the_chain_noise():
    """With f = 0 the conditional is N(x, eps I); annealed to T the chains end near N(x, T eps I)."""
    x = torch.zeros(400, 2)
    solver = neurot.EgNOT(eps=1.0, potential=FixedPotential(lambda y: 0 * y.sum(1)), sampler="mala", batch_size=8,
                          langevin_steps=1)
    solver.fit(x, x, steps=1)
    plain = solver.sample(x, steps=200, seed=0)
    solver.config.anneal = 0.01
    annealed = solver.sample(x, steps=200, seed=0)
    assert float(plain.var()) == pytest.approx(1.0, rel=0.2)
    assert float(annealed.var()) < 0.05


def test_annealed_sampling_keeps_the_solvers_kernel_settings():
    """A kernel setting made on ``solver.kernel`` reaches every temperature stage: with no gradient move allowed,
    ULA chains on ``f(y) = 5 y_0`` (conditional N(x + 5 e_0, I)) stay at their start instead of drifting 5."""
    x = torch.zeros(400, 2)
    solver = neurot.EgNOT(eps=1.0, potential=FixedPotential(lambda y: 5 * y[:, 0]), sampler="ula", batch_size=8,
                          langevin_steps=1)
    solver.fit(x, x, steps=1)
    solver.config.anneal = 0.5
    drifted = solver.sample(x, steps=100, seed=0)
    solver.kernel.max_move = 0.0
    still = solver.sample(x, steps=100, seed=0)
    assert float(drifted[:, 0].mean()) == pytest.approx(5.0, abs=0.5)
    assert abs(float(still[:, 0].mean())) < 0.5


def test_images_to_latent_codes_through_a_generator():
    generator = torch.nn.Sequential(torch.nn.Linear(4, 3 * 8 * 8), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 8, 8)))
    solver = neurot.EgNOT(eps=1.0, cost=latent(generator), hidden=(16,), batch_size=16, langevin_steps=2)
    solver.fit(images(64, 0), torch.randn(64, 4), steps=2, seed=0)
    assert solver.start == "target" and solver.dim == (3, 8, 8) and solver.target_shape == (4,)
    z = solver.sample(images(3, 1), n_per_x=2, steps=3, seed=0)
    assert z.shape == (3, 2, 4)
