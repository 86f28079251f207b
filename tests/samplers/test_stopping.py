"""The energy-plateau stopping rule: early where the chains have relaxed, late where they have not, exact moments."""

import torch

from neurot.samplers import MALA, EnergyPlateau, Target, run_chain

STD = torch.tensor([1.0, 0.5])


def gaussian() -> Target:
    """N(0, diag(STD^2))."""
    return Target(lambda y: 0.5 * (y / STD).square().sum(1))


def test_rule_compares_the_drift_with_its_standard_error():
    rule = EnergyPlateau(z=2.0)
    noise = torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    assert rule.reached(noise, noise.flip(0))            # same distribution: no drift
    assert not rule.reached(noise, noise.flip(0) - 0.1)  # a drift of 0.1 against a standard error of 0.014


def test_chains_started_at_the_target_stop_at_the_minimum(generator):
    y0 = torch.randn(20_000, 2, generator=generator) * STD
    result = run_chain(MALA(0.5), gaussian(), y0, 1000, generator, stop=EnergyPlateau())
    assert result.steps == 50


def test_chains_started_far_away_run_until_relaxed_and_then_match_the_target(generator):
    y0 = torch.randn(20_000, 2, generator=generator) * 0.1 + torch.tensor([8.0, -6.0])
    result = run_chain(MALA(0.2), gaussian(), y0, 1000, generator, stop=EnergyPlateau())
    assert 50 < result.steps < 1000
    y = result.state.y
    assert torch.allclose(y.mean(0), torch.zeros(2), atol=0.05)
    assert torch.allclose(y.std(0), STD, rtol=0.05)
