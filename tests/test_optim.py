"""The shared schedule and the guarded optimizer step of every solver's training step."""

import math

import pytest
import torch

from neurot.optim import cosine_lr, optimizer_step


def test_cosine_lr_starts_at_the_base_rate_halves_midway_and_sets_every_group():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam([{"params": a.parameters()}, {"params": b.parameters()}], lr=1.0)
    assert cosine_lr(optimizer, 0.1, 0, 10) == pytest.approx(0.1)
    assert cosine_lr(optimizer, 0.1, 5, 10) == pytest.approx(0.05)
    assert [group["lr"] for group in optimizer.param_groups] == [pytest.approx(0.05)] * 2
    assert cosine_lr(optimizer, 0.1, 9, 10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(0.9 * math.pi)))


def test_optimizer_step_updates_on_a_finite_loss_and_leaves_the_weights_on_nan():
    net = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net.weight.detach().clone()
    value = optimizer_step(optimizer, net(torch.ones(4, 2)).square().mean(), "test")
    assert math.isfinite(value) and not torch.equal(net.weight, before)
    after = net.weight.detach().clone()
    with pytest.raises(FloatingPointError, match="the generator loss is nan"):
        optimizer_step(optimizer, net(torch.ones(4, 2)).sum() * math.nan, "generator")
    assert torch.equal(net.weight, after)
