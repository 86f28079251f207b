"""Bad input fails early with a ValueError/TypeError that names the argument."""

import numpy as np
import pytest
import torch

import neurot
from neurot.data import as_source

GOOD = np.random.default_rng(0).normal(size=(64, 2))


@pytest.mark.parametrize(
    "source,target,error,match",
    [
        (np.array([[np.nan, 0.0]] * 4), GOOD, ValueError, "source contains NaN"),
        (GOOD, np.array([[np.inf, 0.0]] * 4), ValueError, "target contains NaN or Inf"),
        (GOOD, np.zeros((10, 3)), ValueError, "target must have dimension D = 2"),
        (np.zeros(10), GOOD, ValueError, r"source must have shape \[N, D\]"),
        (np.zeros((0, 2)), GOOD, ValueError, "source must hold at least one point"),
        (GOOD, np.zeros((4, 2, 2)), ValueError, "target must have shape"),
        (np.array([["a", "b"]]), GOOD, TypeError, "source must hold real numbers"),
        ("not data", GOOD, TypeError, "source must hold real numbers"),
        (range(2**40), GOOD, ValueError, "source .range. does not fit in memory"),
        (lambda n: np.zeros((n, 5)), GOOD, ValueError, "target must have dimension D = 5"),
    ],
)
def test_bad_data_raises_before_training(source, target, error, match):
    solver = neurot.EgNOT(eps=1.0)
    with pytest.raises(error, match=match):
        solver.fit(source, target, steps=1)
    assert solver.history == []


def test_checked_sources_are_taken_as_they_are():
    """What check_fit returns, fit takes without converting it again, and still checks its point shape."""
    solver = neurot.EgNOT(eps=1.0, steps=2, batch_size=8, langevin_steps=1)
    source, target = solver.check_fit(GOOD, GOOD)
    assert as_source("source", source) is source
    solver.fit(source, target, seed=0)
    assert solver.step == 2
    wide, _ = solver.check_fit(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="target must have dimension D = 2"):
        neurot.EgNOT(eps=1.0).fit(GOOD, wide, steps=1)


@pytest.mark.parametrize("eps", [0, -1.0, float("nan"), float("inf")])
def test_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        neurot.EgNOT(eps=eps)


@pytest.mark.parametrize(
    "options,error,match",
    [
        ({"eps": "1"}, TypeError, "eps must be a positive number"),
        ({"eps": 1.0, "learning_rate": 1e-3}, ValueError, r"unknown EgNOT options: \['learning_rate'\]"),
        ({"eps": 1.0, "sampler": "hmc"}, ValueError, "sampler must be one of"),
        ({"eps": 1.0, "batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"eps": 1.0, "buffer_prob": 1.5}, ValueError, r"buffer_prob must be in \[0, 1\]"),
        ({"eps": 1.0, "hidden": ()}, ValueError, "hidden must be a non-empty"),
        ({"eps": 1.0, "potential": "resnet"}, ValueError, "potential must be one of"),
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        neurot.EgNOT(**options)


def test_bad_fit_arguments():
    solver = neurot.EgNOT(eps=1.0)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        solver.fit(GOOD, GOOD, steps=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        solver.fit(GOOD, GOOD, seed=1.5)
    with pytest.raises(ValueError, match="device"):
        solver.fit(GOOD, GOOD, device="tpu:banana")
    with pytest.raises(TypeError, match="callbacks"):
        solver.fit(GOOD, GOOD, callbacks=[1])


def test_sample_before_fit_and_bad_sample_input():
    solver = neurot.EgNOT(eps=1.0)
    with pytest.raises(neurot.NotFittedError, match="not fitted"):
        solver.sample(GOOD)
    solver.fit(GOOD, GOOD, steps=1)
    with pytest.raises(ValueError, match="x must have dimension D = 2"):
        solver.sample(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="n_per_x must be an integer >= 1"):
        solver.sample(GOOD, n_per_x=0)
