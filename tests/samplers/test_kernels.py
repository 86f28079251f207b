"""Every kernel must reproduce the moments of a known Gaussian energy."""

import math

import pytest
import torch

from neurot.samplers import KERNELS, DataJump, GaussianSplitMALA, Target, run_chain

MEAN = torch.tensor([1.0, -2.0])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
PRECISION = torch.linalg.inv(COV)


def gaussian_target(gaussian_var: float | None = 2.0) -> Target:
    """N(MEAN, COV) written as |y - 0|^2 / (2 v) + R(y) with R quadratic (so the split kernels apply)."""

    def energy(y):
        d = y - MEAN
        return 0.5 * torch.einsum("ni,ij,nj->n", d, PRECISION, d)

    return Target(energy, gaussian=None if gaussian_var is None else (torch.zeros(2), gaussian_var))


# (kernel, step size, tolerance on mean / covariance): ULA's bias is O(step), so it gets a small step.
CASES = [("ula", 0.02, 0.06), ("mala", 0.3, 0.05), ("split_ula", 0.02, 0.06), ("split_mala", 0.2, 0.05)]


@pytest.mark.parametrize("name,step_size,tol", CASES)
def test_kernel_reproduces_gaussian_moments(name, step_size, tol, generator):
    kernel = KERNELS[name](step_size)
    y0 = torch.randn(4000, 2, generator=generator) * 3
    result = run_chain(kernel, gaussian_target(), y0, 400, generator)
    y = result.state.y
    assert torch.allclose(y.mean(0), MEAN, atol=tol)
    assert torch.allclose(torch.cov(y.T), COV, atol=2 * tol)
    if kernel.adjusted:
        assert 0.2 < result.acceptance < 1.0
    else:
        assert result.acceptance == 1.0


def test_split_kernel_is_exact_in_one_step_for_a_gaussian_energy(generator):
    """With R = 0 the energy is N(m, v I) and a huge step draws it exactly, from anywhere."""
    m = torch.tensor([3.0, -1.0])
    target = Target(lambda y: (y - m).square().sum(1) / (2 * 0.5), gaussian=(m, 0.5))
    kernel = GaussianSplitMALA(1e6)
    y0 = torch.full((20000, 2), 8.0)
    result = run_chain(kernel, target, y0, 1, generator)
    assert result.acceptance > 0.99
    assert torch.allclose(result.state.y.mean(0), m, atol=0.03)
    assert torch.allclose(result.state.y.var(0), torch.full((2,), 0.5), atol=0.03)


def test_split_kernel_requires_gaussian_part(generator):
    with pytest.raises(ValueError, match="Gaussian part"):
        run_chain(GaussianSplitMALA(0.1), gaussian_target(None), torch.zeros(3, 2), 1, generator)


def test_diverging_chain_raises(generator):
    from neurot.samplers import ULA, ChainDivergedError

    target = Target(lambda y: -torch.exp(y.square().sum(1)))  # unbounded below: the energy overflows
    with pytest.raises(ChainDivergedError, match="step size"):
        run_chain(ULA(1.0), target, torch.ones(8, 2), 200, generator)


@pytest.mark.parametrize("name", ["mala", "split_mala"])
def test_tamed_chains_leave_a_steep_energy_hill_that_stalls_untamed_ones(name, generator):
    """Chains on the flank of a hill of height 1e4 in N(0, I)'s energy (where a potential under training can put them).

    Untamed, the gradient move overshoots by hundreds of units and every proposal is rejected; tamed, the chains
    step off the hill and reach the target's mass outside it (radius > 2.5).
    """
    hill = 1e4
    target = Target(lambda y: hill * torch.exp(-y.square().sum(1) / 2) + y.square().sum(1) / 2,
                    gaussian=(torch.zeros(2), 1.0))
    y0 = torch.nn.functional.normalize(torch.randn(2000, 2, generator=generator), dim=1)  # radius 1
    tamed = run_chain(KERNELS[name](0.5), target, y0, 50, generator)
    untamed_kernel = KERNELS[name](0.5)
    untamed_kernel.max_move = math.inf
    untamed = run_chain(untamed_kernel, target, y0, 50, generator)
    assert untamed.acceptance < 0.01
    assert torch.allclose(untamed.state.y, y0)
    radius = tamed.state.y.norm(dim=1)
    assert radius.min() > 2.5
    assert 0.3 < tamed.acceptance < 1


def test_step_size_adapter_moves_toward_target_acceptance():
    from neurot.samplers import MALA, StepSizeAdapter

    kernel, adapter = MALA(1.0), StepSizeAdapter(target_acceptance=0.6, rate=0.5, max_step=1.05)
    adapter.update(kernel, acceptance=0.1)
    assert kernel.step_size == pytest.approx(math.exp(-0.25))
    adapter.update(kernel, acceptance=0.9)
    assert kernel.step_size == pytest.approx(math.exp(-0.25 + 0.15))
    for _ in range(10):
        adapter.update(kernel, acceptance=1.0)
    assert kernel.step_size == 1.05


def test_data_jumps_carry_chains_between_separated_modes_in_the_right_proportion(generator):
    """A 0.8 / 0.2 mixture of N(-5, 0.25) and N(5, 0.25): Langevin chains started in the left mode never leave it;
    with jumps they end in the right mode with its weight 0.2, although the references sit half on each mode (the
    Metropolis-Hastings ratio corrects for any proposal)."""
    centres, weights = torch.tensor([-5.0, 5.0]), torch.tensor([0.8, 0.2])

    def energy(y):
        return -torch.logsumexp(weights.log() - (y - centres).square() / (2 * 0.25), dim=1)

    y0 = torch.full((4000, 1), -5.0)
    references = torch.cat([torch.full((50, 1), -5.0), torch.full((50, 1), 5.0)])
    kernel = KERNELS["mala"](0.2)
    stuck = run_chain(kernel, Target(energy), y0, 200, generator).state.y
    assert (stuck > 0).float().mean().item() == 0.0
    result = run_chain(kernel, Target(energy), y0, 200, generator, jump=DataJump(references, 0.5), jump_every=5)
    assert (result.state.y > 0).float().mean().item() == pytest.approx(0.2, abs=0.03)
    assert 0.1 < result.extra["jump_acceptance"] < 1.0


def test_data_jump_log_density_is_the_kernel_density_where_most_terms_underflow(generator):
    """log q(y) = log (1/M) sum_k N(y; r_k, h^2 I) + (D/2) log(2 pi) for points near some references and far from
    most: raising the terms below e^-80 of the largest to that floor changes nothing in float32."""
    references = torch.cat([torch.randn(20, 3, generator=generator), 30 + torch.randn(1000, 3, generator=generator)])
    y = torch.cat([torch.randn(50, 3, generator=generator), 30 + torch.randn(50, 3, generator=generator)])
    jump = DataJump(references, 0.3)
    exact = torch.logsumexp(-torch.cdist(y, references).square() / (2 * 0.3**2), dim=1) - math.log(1020 * 0.3**3)
    torch.testing.assert_close(jump.log_density(y), exact, rtol=1e-6, atol=0)
    one = DataJump(references[:1], 0.3)  # one reference: the Gaussian density, without its (2 pi)^(-D/2)
    gaussian = torch.distributions.Normal(references[0], 0.3).log_prob(y[:50]).sum(1) + 1.5 * math.log(2 * math.pi)
    torch.testing.assert_close(one.log_density(y[:50]), gaussian, rtol=1e-5, atol=1e-5)
