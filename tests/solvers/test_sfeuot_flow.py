"""SF-EUOT's generator families: the flow generator's log-determinant, the Gibbs KL loss, a bimodal conditional,
saving and resuming."""

import numpy as np
import pytest
import torch

import neurot
from neurot.benchmarks.suites import Grid, mixture_suite
from neurot.costs import quadratic
from neurot.data.toy import OUTLIER_CENTRE, TOY_SETS
from neurot.nn import FlowGenerator, GaussianGenerator
from neurot.nn.generator import gibbs_kl_loss

SMALL = {"hidden": (64, 64), "generator_hidden": (64, 64)}


def test_flow_generator_starts_as_the_gaussian_one_and_its_log_det_is_exact():
    torch.manual_seed(0)
    flow = FlowGenerator(3, (16, 16), eps0=0.5, transforms=2)
    x, z = torch.randn(6, 3), torch.randn(6, 3)
    gaussian_y, gaussian_log_det = flow.gaussian(x, z)
    y, log_det = flow(x, z)
    torch.testing.assert_close(y, gaussian_y)
    torch.testing.assert_close(log_det, gaussian_log_det)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.normal_(0, 0.3)
    for point, noise in zip(x[:3, None], z[:3], strict=True):
        jacobian = torch.autograd.functional.jacobian(lambda v, point=point: flow(point, v[None])[0][0], noise)
        torch.testing.assert_close(flow(point, noise[None])[1][0], torch.linalg.slogdet(jacobian)[1])
    assert isinstance(flow.gaussian, GaussianGenerator)


def test_gibbs_kl_loss_is_eps_kl_to_the_gibbs_conditional():
    """With ``f = 0`` and the quadratic cost, ``pi_f(. | x) = N(x, eps I)``; the untrained Gaussian generator is
    ``N(x, eps0 I)``, so the loss is ``eps KL(N(x, eps0 I) || N(x, eps I)) = (D eps / 2)(r - 1 - log r)``, ``r =
    eps0 / eps``, plus the constant ``(D eps / 2)(1 - log eps)``: at its minimum when ``eps0 = eps``."""
    dim, eps, n = 3, 0.4, 200_000
    x, z = torch.randn(n, dim), torch.randn(n, dim)
    for ratio in (0.5, 1.0, 2.0):
        generator = GaussianGenerator(dim, (8,), eps0=ratio * eps)
        with torch.no_grad():
            loss = gibbs_kl_loss(x, *generator(x, z), quadratic, lambda y: torch.zeros(len(y)), eps)
        kl = dim * eps / 2 * (ratio - 1 - np.log(ratio))
        assert abs(loss.item() - kl - dim * eps / 2 * (1 - np.log(eps))) < 0.01, (ratio, loss.item(), kl)


def bimodal_fit(generator: str):
    """A narrow 1-D source ``N(0, 0.05^2)`` to ``0.7 N(-1.5, 0.3^2) + 0.3 N(1.5, 0.3^2)``, eps = 0.5, balanced.

    The source is nearly a point, so every conditional is nearly the target itself: two modes with shares 0.7 / 0.3
    (exactly so on average over x, since the plan's target marginal is Q).
    """
    rng = np.random.default_rng(0)
    x = 0.05 * rng.standard_normal((20_000, 1))
    right = rng.random(20_000) < 0.3
    y = np.where(right, 1.5, -1.5)[:, None] + 0.3 * rng.standard_normal((20_000, 1))
    solver = neurot.SFEUOT(eps=0.5, generator=generator, **SMALL).fit(x, y, steps=500, seed=0)
    samples = solver.sample(0.05 * rng.standard_normal((20, 1)), n_per_x=500, seed=1).numpy()[..., 0]  # [20, 500]
    return np.abs((samples > 0).mean(1) - 0.3).mean(), (np.abs(samples) < 0.6).mean()


def test_flow_generator_fits_a_bimodal_conditional_the_gaussian_cannot():
    """Per source point, the right mode's share within 0.08 of 0.3 (mean over 20 points) and under 15 % of the
    samples in the gap |y| < 0.6 (exact: 0.3 and 0.1 %). A Gaussian per point can only fail one of the two: one
    wide mode fills the gap, one narrow mode per point gets the share wrong (it may still split the points between
    the modes, so that the samples pooled over points look right)."""
    share_error, gap = bimodal_fit("flow")
    assert share_error < 0.08 and gap < 0.15, (share_error, gap)
    share_error, gap = bimodal_fit("gaussian")
    assert share_error >= 0.08 or gap >= 0.15, (share_error, gap)


def test_flow_solver_saves_loads_and_resumes(tmp_path):
    x = np.random.default_rng(0).standard_normal((300, 2))
    make = lambda: neurot.SFEUOT(eps=0.5, generator="flow", flow_transforms=2, hidden=(16,),  # noqa: E731
                                 generator_hidden=(16,), batch_size=32)
    solver = make().fit(x, x + 1, steps=6, seed=0)
    solver.save(tmp_path / "model")
    loaded = neurot.load(tmp_path / "model")
    assert isinstance(loaded.generator_net, FlowGenerator) and loaded.config == solver.config
    query = torch.randn(20, 2)
    torch.testing.assert_close(loaded.sample(query, n_per_x=3, seed=1), solver.sample(query, n_per_x=3, seed=1))
    stopped = make().fit(x, x + 1, steps=6, seed=0, checkpoint_dir=tmp_path / "ckpt",
                         callbacks=[lambda solver, step, metrics: step == 3])
    assert stopped.step == 3
    resumed = make().fit(x, x + 1, steps=6, seed=0, checkpoint_dir=tmp_path / "ckpt", resume=True)
    torch.testing.assert_close(resumed.sample(query, seed=2), solver.sample(query, seed=2))


@pytest.mark.slow
def test_balanced_flow_carries_the_far_cluster_along():
    """The exact balanced plan sends 2 % of the mass to the cluster at (8, 8); the Gaussian generator sends 0-0.4 %.
    Same data and seeds as the outlier case of ``neurot bench unbalanced`` (measured: 1.945 %, 1.5-2 min);
    required: at least 1.5 %."""
    generator = torch.Generator().manual_seed(0)
    x_train = torch.randn(20_000, 2, generator=generator)
    y_train = TOY_SETS["gaussian_outliers"](20_000, generator)
    x = torch.randn(20_000, 2, generator=generator)
    solver = neurot.SFEUOT(eps=0.1, generator="flow").fit(x_train, y_train, steps=1000, seed=0)
    near = np.linalg.norm(solver.sample(x, seed=1).numpy() - np.array(OUTLIER_CENTRE), axis=1) < 3.0
    assert 0.015 <= near.mean() <= 0.03


@pytest.mark.slow
def test_flow_on_the_2d_mixture_pair_within_3x_the_floor():
    """Issue #16's bar at D = 2, eps = 1 (measured: 0.119 % against a floor of 0.067 %, 3-4 min)."""
    (row,) = mixture_suite(Grid(dims=(2,), eps=(1.0,), solvers=("sfeuot",), n_conditional=(200, 1000)))
    assert row["cbw2_uvp_finite"] < 3 * row["floor_cbw2_uvp"], row


def test_auto_generator_is_the_flow_up_to_d16_and_gaussian_above():
    for dim, family in [(16, FlowGenerator), (17, GaussianGenerator)]:
        points = np.random.default_rng(0).normal(size=(64, dim))
        solver = neurot.SFEUOT(eps=0.5, hidden=(8,), generator_hidden=(8,), batch_size=16, hjb_weight=0.0)
        assert isinstance(solver.fit(points, points + 1, steps=1).generator_net, family)
