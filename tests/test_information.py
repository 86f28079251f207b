"""Mutual information from samples through OT flow, against the closed form of correlated Gaussian pairs."""

import numpy as np
import pytest

import neurot
from neurot.benchmarks import GaussianMIProblem
from neurot.information import product_of_marginals
from neurot.solvers.otflow import OTFlow

SMALL = {"hidden": (64, 64), "ratio_hidden": (64, 64), "batch_size": 256, "coupling_size": 512,
         "coupled_pairs": 4096}


def test_product_of_marginals_keeps_marginals_and_breaks_pairs():
    x, y = GaussianMIProblem(2, 0.9).sample(5000, np.random.default_rng(0))
    joint, product = product_of_marginals(x, y, np.random.default_rng(1))
    np.testing.assert_array_equal(joint, np.hstack([x, y]))
    np.testing.assert_array_equal(product[:, 0], x[:, 0])
    np.testing.assert_array_equal(np.sort(product[:, 1]), np.sort(y[:, 0]))
    assert np.corrcoef(joint.T)[0, 1] > 0.85 and abs(np.corrcoef(product.T)[0, 1]) < 0.05


@pytest.mark.parametrize("rho", [0.8, 0.0])
def test_mutual_information_of_a_correlated_pair(rho):
    """One pair (D = 2): the exact MI is 0.51 nats at rho = 0.8, 0 for independent coordinates (short fit)."""
    problem = GaussianMIProblem(2, rho)
    x, y = problem.sample(12_000, np.random.default_rng(0))
    flow = OTFlow(warmup_steps=600, reflow_steps=0, ratio_steps=400, **SMALL)
    estimate = neurot.mutual_information(x, y, flow=flow, test_fraction=1 / 6, seed=0)
    assert flow.dim == 2
    assert estimate == pytest.approx(problem.mutual_information, abs=0.05 + 0.1 * problem.mutual_information)


def test_mutual_information_rejects_bad_inputs():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        neurot.mutual_information(x, np.zeros((9, 2)))
    with pytest.raises(ValueError, match="test_fraction"):
        neurot.mutual_information(x, x, test_fraction=0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        neurot.mutual_information(x, np.zeros(10))
