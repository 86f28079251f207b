"""EgNOT against the closed-form Gaussian EOT plan (MATH.md section 3)."""

import numpy as np
import pytest
import torch

import neurot
from neurot.benchmarks.gaussian import GaussianEOT, gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp, cbw2_uvp


def fit_pair(problem: GaussianEOT, steps: int, n: int = 20_000, **options) -> neurot.EgNOT:
    rng = np.random.default_rng(0)
    solver = neurot.EgNOT(eps=problem.eps, **options)
    return solver.fit(problem.sample_source(n, rng), problem.sample_target(n, rng), steps=steps, seed=0)


@pytest.fixture(scope="module")
def fitted_2d():
    problem = gaussian_benchmark_pair(2, eps=1.0, seed=0)
    return problem, fit_pair(problem, steps=400, hidden=(128, 128))


def test_paths_match_the_closed_form_bridge(fitted_2d, bridge_errors):
    """X_t of the Schrodinger bridge at t = 0.3, 0.5, 0.8: BW2-UVP against the closed form <= 1 %."""
    errors = bridge_errors(*fitted_2d)
    assert all(error < 1.0 for error in errors.values()), errors


def test_evaluate_sees_a_plan_that_misses_its_target(fitted_2d):
    problem, solver = fitted_2d
    rng = np.random.default_rng(8)
    x, y = problem.sample_source(1000, rng), problem.sample_target(1000, rng)
    good = solver.evaluate(x, y, seed=0, steps=100)
    assert abs(good["floor"]) < 0.02 and good["energy"] < 0.02
    assert solver.evaluate(x, y + 1.0, seed=0, steps=100)["energy"] > 0.2


def test_recovers_closed_form_conditionals_2d(fitted_2d):
    """Tolerances (entries of order 1): RMS error of conditional means over the test inputs < 0.1, average
    conditional covariance within 0.1, cBW2-UVP < 1 %. The worst single mean may be worse: tail inputs see
    little training data."""
    problem, solver = fitted_2d
    rng = np.random.default_rng(1)
    x = problem.sample_source(20, rng)
    samples = solver.sample(x, n_per_x=2000, seed=0, steps=100).numpy()
    means = problem.conditional_mean(x)
    assert np.sqrt(np.mean((samples.mean(1) - means) ** 2)) < 0.1
    covs = np.stack([np.cov(s.T) for s in samples])
    np.testing.assert_allclose(covs.mean(0), problem.conditional_cov, atol=0.1)
    score = cbw2_uvp(samples, means, problem.conditional_cov, np.trace(problem.target_cov))
    assert score < 1.0


def test_plan_bw2_uvp_2d(fitted_2d):
    problem, solver = fitted_2d
    x = problem.sample_source(5000, np.random.default_rng(2))
    y = solver.sample(x, seed=3, steps=100).numpy()
    assert bw2_uvp(np.concatenate([x, y], 1), problem.plan_mean, problem.plan_cov) < 1.0


def test_sampling_chains_that_stop_on_an_energy_plateau_keep_the_accuracy(fitted_2d):
    """``sample_stop``: the same cBW2-UVP bar as the fixed chains of the test above."""
    problem, solver = fitted_2d
    x = problem.sample_source(20, np.random.default_rng(1))
    solver.config.sample_stop = True
    try:
        samples = solver.sample(x, n_per_x=2000, seed=0).numpy()
    finally:
        solver.config.sample_stop = False
    means = problem.conditional_mean(x)
    assert cbw2_uvp(samples, means, problem.conditional_cov, np.trace(problem.target_cov)) < 1.0


def test_history_records_loss_and_diagnostics(fitted_2d):
    _, solver = fitted_2d
    assert len(solver.history) == 400
    assert {"step", "loss", "acceptance", "step_size", "grad_norm"} <= set(solver.history[-1])
    assert 0.3 < solver.history[-1]["acceptance"] < 0.95


def test_save_load_round_trip_gives_identical_samples(fitted_2d, tmp_path):
    _, solver = fitted_2d
    solver.save(tmp_path / "model")
    loaded = neurot.EgNOT.load(tmp_path / "model")
    x = torch.randn(50, 2)
    assert torch.equal(solver.sample(x, seed=7, steps=20), loaded.sample(x, seed=7, steps=20))
    assert loaded.kernel.step_size == solver.kernel.step_size


def test_data_jumps_are_saved_with_the_model_and_reported(tmp_path):
    """The jump references are target points drawn at the start of the fit; a loaded model keeps them."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1
    solver = neurot.EgNOT(eps=0.5, hidden=(16,), batch_size=64, jump_every=5, jump_points=40).fit(x, y, steps=3,
                                                                                                   seed=0)
    references = solver.jump.references
    assert references.shape == (40, 2)
    assert all(any(np.allclose(r, row) for row in y) for r in references.numpy())
    assert all(0 <= h["jump_acceptance"] <= 1 for h in solver.history)
    solver.save(tmp_path / "model")
    loaded = neurot.EgNOT.load(tmp_path / "model")
    assert torch.equal(loaded.jump.references, references)
    assert torch.equal(solver.sample(x[:20], seed=1, steps=10), loaded.sample(x[:20], seed=1, steps=10))
    assert neurot.EgNOT(eps=0.5).fit(x, y, steps=1, seed=0).jump is None


class TwoModePotential(torch.nn.Module):
    """``f(y) = eps log m(y) + |y|^2 / 2``, ``m`` = 0.8 N((-3, 0), 0.09 I) + 0.2 N((3, 0), 0.09 I): for the quadratic
    cost ``pi_f(. | 0) = m`` exactly."""

    def __init__(self, eps):
        super().__init__()
        self.eps, self.unused = eps, torch.nn.Parameter(torch.zeros(()))  # the optimiser needs a parameter

    def forward(self, y):
        centres, weights = torch.tensor([[-3.0, 0.0], [3.0, 0.0]]), torch.tensor([0.8, 0.2])
        squares = (y[:, None] - centres).square().sum(-1)
        return self.eps * torch.logsumexp(weights.log() - squares / (2 * 0.09), dim=1) + y.square().sum(1) / 2 \
            + 0 * self.unused


def test_resampled_starts_put_each_mode_of_the_conditional_its_mass():
    """pi_f(. | 0) = m has modes at (-3, 0) and (3, 0) with mass 0.8 / 0.2 (the potential is fixed: lr ~ 0). Chains
    from N(0, eps I) fall to the nearer mode, half each, and Langevin steps do not cross the gap; resampled starts
    begin with 20 % in the right mode and the chains keep it. The references are target points drawn by ``fit``."""
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal([-3, 0], 0.3, (800, 2)), rng.normal([3, 0], 0.3, (200, 2))])
    x, zero = rng.normal(size=(1000, 2)), np.zeros((4000, 2))
    share = {}
    for start in ("source", "resample"):
        solver = neurot.EgNOT(eps=1.0, potential=TwoModePotential(1.0), lr=1e-12, start=start, batch_size=64)
        solver.fit(x, y, steps=1, seed=0)
        assert (solver.jump is not None) == (start == "resample")  # the references, saved with the model
        assert "jump_acceptance" not in solver.history[-1]  # they serve the starts; chains do not jump
        for steps in (0, 30):
            share[start, steps] = (solver.sample(zero, seed=1, steps=steps)[:, 0] > 0).float().mean().item()
    assert share["resample", 0] == pytest.approx(0.2, abs=0.03)
    assert share["resample", 30] == pytest.approx(0.2, abs=0.03)
    assert share["source", 30] == pytest.approx(0.5, abs=0.05)


def test_same_seed_same_result():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1
    runs = [neurot.EgNOT(eps=1.0, hidden=(16,), batch_size=64).fit(x, y, steps=5, seed=3) for _ in range(2)]
    refit = [p.clone() for p in runs[1].fit(x, y, steps=5, seed=3).potential.parameters()]
    for a, b, c in zip(runs[0].potential.parameters(), runs[1].potential.parameters(), refit, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_mlp_potential_gaussian_part():
    """``f(y) = scale^2 (g(u) + u^T H u / 2 + h^T u)`` with ``H = 0, h = 0`` until set; without it ``f`` is ``g``."""
    torch.manual_seed(0)
    potential = neurot.nn.MLPPotential(3, (8,), gaussian_part=True)
    potential.set_normalization(torch.tensor([1.0, -1.0, 0.5]), 2.0)
    y = torch.randn(5, 3)
    u = (y - potential.loc) / 2.0
    network = 4.0 * potential.net(u).squeeze(-1)
    torch.testing.assert_close(potential(y), network)
    potential.set_gaussian_part(torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, -1.0]]),
                                torch.tensor([0.0, 1.0, -2.0]))
    form = u[:, 0] ** 2 + u[:, 0] * u[:, 1] / 2 + u[:, 1] ** 2 / 2 - u[:, 2] ** 2 / 2 + u[:, 1] - 2 * u[:, 2]
    torch.testing.assert_close(potential(y), network + 4.0 * form)
    with pytest.raises(ValueError, match="without gaussian_part"):
        neurot.nn.MLPPotential(3, (8,)).set_gaussian_part(torch.eye(3), torch.zeros(3))


def test_gaussian_part_is_the_exact_potential_of_gaussian_data():
    """Fitted on Gaussian samples, the fixed part of ``f`` is the closed-form potential (up to sampling error)."""
    problem = gaussian_benchmark_pair(3, 1.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = problem.sample_source(40_000, rng), problem.sample_target(40_000, rng)
    solver = neurot.EgNOT(eps=1.0, hidden=(8,), batch_size=16, langevin_steps=1).fit(x, y, steps=1)
    potential = solver.potential
    scale, loc = potential.scale.item(), potential.loc.numpy()
    # f(y) = 1/2 (y - b)^T H (y - b) + (b - a)^T (y - b): in u = (y - loc) / scale, H is unchanged and
    # h = H (loc - b) / scale + (b - a) / scale.
    b, a = problem.target_mean, problem.source_mean
    np.testing.assert_allclose(potential.hessian.numpy(), problem.potential_hessian, atol=0.05)
    expected = problem.potential_hessian @ (loc - b) / scale + (b - a) / scale
    np.testing.assert_allclose(potential.gradient.numpy(), expected, atol=0.05)
    x = np.random.default_rng(0).normal(size=(64, 3))
    assert not neurot.EgNOT(eps=1.0, hidden=(8,), gaussian_part=False).fit(x, x, steps=1).potential.gaussian_part
    with pytest.raises(ValueError, match="quadratic .* is gone"):
        neurot.EgNOT(eps=1.0, quadratic=True)


def test_callable_data_and_custom_potential():
    class Quadratic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

        def forward(self, y):
            return (y * self.w).sum(1)

    solver = neurot.EgNOT(eps=0.5, potential=Quadratic(), batch_size=32, langevin_steps=2)
    solver.fit(lambda n: torch.randn(n, 3), lambda n: torch.randn(n, 3) + 2, steps=3)
    assert solver.sample(torch.zeros(4, 3), n_per_x=5, steps=2).shape == (4, 5, 3)


def test_callbacks_can_stop_training():
    seen = []
    solver = neurot.EgNOT(eps=1.0, hidden=(8,), batch_size=16)
    solver.fit(np.zeros((10, 2)) + np.arange(10)[:, None], np.ones((10, 2)), steps=50,
               callbacks=[lambda s, step, m: seen.append(step) or step == 3])
    assert seen == [1, 2, 3] and len(solver.history) == 3


@pytest.mark.slow
@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_default_solver_accuracy_d8(eps):
    """Issue #2's bar: with only eps set, D = 8, 20k samples: plan BW2-UVP <= 0.5 %, cBW2-UVP <= 1 %."""
    problem = gaussian_benchmark_pair(8, eps=eps, seed=0)
    solver = fit_pair(problem, steps=None)
    rng = np.random.default_rng(1)
    x = problem.sample_source(20_000, rng)
    y = solver.sample(x, seed=0).numpy()
    assert bw2_uvp(np.concatenate([x, y], 1), problem.plan_mean, problem.plan_cov) <= 0.5
    x_test = x[:100]
    samples = solver.sample(x_test, n_per_x=1000, seed=1).numpy()
    score = cbw2_uvp(samples, problem.conditional_mean(x_test), problem.conditional_cov, np.trace(problem.target_cov))
    assert score <= 1.0


def test_sampling_options_are_arguments_of_sample_with_the_solver_defaults(fitted_2d):
    _, solver = fitted_2d
    x = torch.randn(30, 2)
    default = solver.sample(x, seed=1, steps=20)
    assert torch.equal(default, solver.sample(x, seed=1, steps=20, anneal=solver.config.anneal))
    colder = solver.sample(x, seed=1, steps=20, anneal=0.1)
    assert colder.shape == default.shape and not torch.equal(colder, default)
    assert solver.sample(x, seed=1, steps=20, stop=True).shape == default.shape
    with pytest.raises(ValueError, match="anneal"):
        solver.sample(x, anneal=1.5)


def test_a_fit_that_overflows_on_data_of_huge_values_advises_rescaling():
    """Finite float32 data at 1e11 overflows the potential's square: the divergence error names the remedy."""
    y = np.zeros((64, 2), np.float32)
    y[-1] = 1e11
    with pytest.raises(neurot.DivergenceError, match=r"divided by a constant c and eps by c\^2"):
        neurot.EgNOT(1.0, hidden=(4,), batch_size=8, langevin_steps=1).fit(np.zeros((64, 2), np.float32), y, steps=3)
