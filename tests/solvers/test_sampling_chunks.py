"""Sampling in chunks: the rows and their order do not depend on the chunk size."""

import numpy as np
import pytest
import torch

import neurot
from neurot.solvers.base import draw_in_chunks


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 100])
def test_draw_in_chunks_repeats_rows_in_order(chunk_size):
    x = torch.arange(10.0).view(5, 2)
    calls = []
    out = draw_in_chunks(x, 3, chunk_size, lambda rows: calls.append(len(rows)) or rows * 2)
    assert torch.equal(out, 2 * x.repeat_interleave(3, dim=0))
    assert max(calls) <= chunk_size and sum(calls) == 15


@pytest.mark.parametrize("solver", [neurot.EgNOT(eps=1.0, hidden=(16,), batch_size=64), neurot.LightSB(eps=1.0)])
def test_samples_have_the_same_law_whatever_the_chunk(solver):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + 2
    solver.fit(x, y, steps=20)
    small = solver.sample(x[:3], n_per_x=2000, seed=1, chunk_size=512)
    large = solver.sample(x[:3], n_per_x=2000, seed=1)
    assert small.shape == large.shape == (3, 2000, 2)
    assert (small.mean(1) - large.mean(1)).abs().max() < 0.15
