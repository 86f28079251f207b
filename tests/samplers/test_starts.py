"""Chain starts by sampling-importance-resampling against a two-mode target with known weights."""

import pytest
import torch

from neurot.samplers import DataJump, Target, resampled_starts
from neurot.samplers import starts as starts_module

CENTRES, WEIGHTS = torch.tensor([-5.0, 5.0]), torch.tensor([0.8, 0.2])


def energy(y):
    """A 0.8 / 0.2 mixture of N(-5, 0.25) and N(5, 0.25) on the line, ``[n, 1] -> [n]``."""
    return -torch.logsumexp(WEIGHTS.log() - (y - CENTRES).square() / (2 * 0.25), dim=1)


def starts_from_the_left_mode(generator, candidates=32):
    """Starts for 4000 rows x = -5 (the local candidate in the left mode), references half on each mode; both
    proposals have standard deviation 1, twice the modes'."""
    x = torch.full((4000, 1), -5.0)
    references = torch.cat([torch.full((50, 1), -5.0), torch.full((50, 1), 5.0)])
    return resampled_starts(x, lambda rows: Target(energy), DataJump(references, 1.0), candidates, 1.0, generator)


@pytest.mark.parametrize("max_pairs", [starts_module.MAX_PAIRS, 10_000])
def test_resampled_starts_reach_the_far_mode_with_its_weight(generator, monkeypatch, max_pairs):
    """The local candidate alone would start in the left mode; the data candidates, weighted by the target over
    their proposal, put the far mode's 20 % there (also when the rows run in many chunks)."""
    monkeypatch.setattr(starts_module, "MAX_PAIRS", max_pairs)
    y = starts_from_the_left_mode(generator)
    assert y.shape == (4000, 1)
    right = y[:, 0] > 0
    assert right.float().mean().item() == pytest.approx(0.2, abs=0.03)
    # within each mode the kept points follow that mode's N(+-5, 0.25): importance weights, not the proposal's spread
    for mode, centre in ((right, 5.0), (~right, -5.0)):
        assert y[mode, 0].mean().item() == pytest.approx(centre, abs=0.05)
        assert y[mode, 0].var().item() == pytest.approx(0.25, rel=0.2)


def test_resampled_starts_are_reproducible_with_a_generator():
    first, second = (starts_from_the_left_mode(torch.Generator().manual_seed(3), candidates=8) for _ in range(2))
    assert torch.equal(first, second)
