"""The divergence guard: NaN/Inf in a loss, a metric, a chain or the weights stops training with a clear message
and leaves the last good checkpoint; EgNOT's optional Langevin step-size backoff."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

import neurot
from neurot.checkpoint import latest_checkpoint, read_checkpoint
from neurot.solvers.base import Solver


@dataclass
class ScriptedConfig:
    steps: int = 10
    batch_size: int = 4


class Scripted(Solver):
    """A solver whose step returns the next scripted loss and, when asked, poisons its weights."""

    name = "scripted"
    Config = ScriptedConfig

    def __init__(self, losses, poison_at=None):
        super().__init__()
        self.losses, self.poison_at = losses, poison_at

    def _build(self, dim):
        self.dim, self.net = dim, nn.Linear(dim, 1)

    def _setup(self, source, target):
        self._build(source.dim)

    def _modules(self):
        return {"net": self.net}

    def _train_step(self, step, total):
        if step == self.poison_at:
            with torch.no_grad():
                self.net.weight.fill_(math.inf)
        return {"loss": self.losses[step - 1]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 2)), rng.normal(size=(200, 2))


def test_non_finite_metric_names_step_and_quantity_and_keeps_the_checkpoint(data, tmp_path):
    losses = [1.0] * 4 + [math.nan] + [1.0] * 5
    with pytest.raises(neurot.DivergenceError) as info:
        Scripted(losses).fit(*data, checkpoint_dir=tmp_path, checkpoint_every=2)
    message = str(info.value)
    assert "diverged at step 5: loss = nan" in message
    assert f"last good checkpoint is kept in {tmp_path}" in message and "Try: a lower learning rate" in message
    assert info.value.step == 5 and isinstance(info.value, FloatingPointError)
    assert latest_checkpoint(tmp_path).name == "step-000004"


def test_non_finite_weights_are_never_checkpointed(data, tmp_path):
    with pytest.raises(neurot.DivergenceError, match="step 4: the weights of the net network"):
        Scripted([1.0] * 10, poison_at=3).fit(*data, checkpoint_dir=tmp_path, checkpoint_every=2)
    state, _ = read_checkpoint(latest_checkpoint(tmp_path))
    assert latest_checkpoint(tmp_path).name == "step-000002"
    assert torch.isfinite(state["modules"]["net"]["weight"]).all()


class Bowl(nn.Module):
    """``f(y) = -k |y|^2``: the conditional energy has curvature ``(1 + 2k) / eps``, so large ULA steps explode."""

    def __init__(self):
        super().__init__()
        self.k = nn.Parameter(torch.tensor(10.0))

    def forward(self, y):
        return -self.k * y.square().sum(1)


def exploding_egnot(**options):
    """Untamed ULA (``max_move = inf``): tamed moves would keep these chains finite."""
    solver = neurot.EgNOT(eps=1.0, potential=Bowl(), sampler="ula", step_size=100.0, langevin_steps=60,
                          batch_size=16, buffer_prob=0.0, **options)
    solver.kernel.max_move = math.inf
    return solver


def test_diverged_chain_stops_training_with_advice(data):
    with pytest.raises(neurot.DivergenceError) as info:
        exploding_egnot().fit(*data, steps=3)
    message = str(info.value)
    assert "EgNOT training diverged at step 1: Langevin chain diverged" in message
    assert "step_backoff" in message and "lower lr or step_size" not in message.split("Try:")[0]


def test_step_backoff_halves_the_langevin_step_until_chains_are_stable(data):
    """ULA on this quadratic energy multiplies deviations by ``|1 - step (1 + 2k) / 2|`` per step: over 60 steps
    that overflows for steps >= 0.39 and stays finite at 100 / 2^9 = 0.195."""
    solver = exploding_egnot(step_backoff=12).fit(*data, steps=3)
    assert solver.kernel.step_size == 100 / 2**9
    assert len(solver.history) == 3 and all(math.isfinite(m["loss"]) for m in solver.history)


class NaNAfter(nn.Module):
    """An exact (closed-form) potential whose log-partition turns NaN once ``broken`` is set."""

    def __init__(self):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(()))
        self.broken = False

    def forward(self, y):
        return self.shift * y.sum(1)

    def log_partition(self, x):
        value = (self.shift * x.sum(1)) ** 2
        return value * math.nan if self.broken else value

    def sample_conditional(self, x, generator):
        return x


def test_non_finite_loss_is_caught_before_the_update(data, tmp_path):
    potential = NaNAfter()

    def breaker(solver, step, metrics):
        potential.broken = step == 2

    with pytest.raises(neurot.DivergenceError, match="at step 3: the LightSB loss is nan"):
        neurot.LightSB(eps=1.0, potential=potential, batch_size=8).fit(*data, steps=5, callbacks=[breaker])
    assert torch.isfinite(potential.shift)
