"""Fits that stop when they are done: the schedule with a final decay, the settled-plan rule, and fits that use them."""


import numpy as np
import pytest
import torch

import neurot
from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp, cbw2_uvp
from neurot.checkpoint import latest_checkpoint
from neurot.optim import Schedule, cosine_lr
from neurot.stopping import Stopping


def test_schedule_follows_the_cosine_then_decays_continuously_to_zero_at_the_new_end():
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    schedule = Schedule(100)
    assert [schedule.factor(k) for k in (1, 30)] == [cosine_lr(optimizer, 1.0, k - 1, 100) for k in (1, 30)]
    schedule.decay(40, 20)
    assert schedule.end == 60
    assert schedule.factor(41) == pytest.approx(schedule.factor(40), rel=0.05)  # no jump at the decay's start
    factors = [schedule.factor(k) for k in range(41, 61)]
    assert all(a > b for a, b in zip(factors, factors[1:], strict=False)) and factors[-1] < 0.01
    assert schedule.set_lr(optimizer, 0.1, 50) == optimizer.param_groups[0]["lr"] == pytest.approx(
        0.1 * schedule.factor(50))
    schedule.decay(95, 20)
    assert schedule.end == 100  # never past the cap


def test_settled_needs_patience_changes_of_at_most_settle_nats():
    rule = Stopping(patience=2, settle=0.5)
    assert rule.measure_change(torch.zeros(5)) == {}  # nothing to compare with at the first check
    for shift, settled in [(torch.tensor([0.0, 1, 2, 3, 4]), False), (torch.full((5,), 7.0), False),
                           (torch.tensor([0.0, 0, 0.4, 0, 0]), True), (torch.tensor([0.0, 0, 0.6, 1.2, 1.8]), False)]:
        rule.measure_change(rule.last + shift)
        assert rule.settled() == settled, rule.changes
    assert rule.changes == pytest.approx([1.0, 0.0, 0.0, 0.6])  # median absolute deviation: a shift is no change


def test_stop_option_is_checked():
    with pytest.raises(TypeError, match="stop must be"):
        neurot.EgNOT(eps=1.0).check_fit(np.zeros((10, 2)), np.zeros((10, 2)), stop="early")
    with pytest.raises(ValueError, match="cannot stop early"):
        neurot.OTFlow().check_fit(np.zeros((10, 2)), np.zeros((10, 2)), stop=Stopping())
    with pytest.raises(ValueError, match="decay must be"):
        Stopping(decay=0)
    with pytest.raises(ValueError, match="settle must be"):
        Stopping(settle=-1.0)


def test_an_easy_problem_stops_well_before_the_cap_and_stays_accurate():
    """D = 2, eps = 1: the plan settles within a few hundred steps; the fit ends long before 3000 with a plan within
    1 % BW2-UVP of the closed form (the fixed 3000-step fit: about 0.1 %)."""
    problem = gaussian_benchmark_pair(2, eps=1.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = problem.sample_source(5000, rng), problem.sample_target(5000, rng)
    rule = Stopping(every=50, min_steps=200, points=256)
    solver = neurot.EgNOT(eps=1.0, hidden=(64, 64), batch_size=256).fit(x, y, steps=3000, seed=0, stop=rule)
    assert solver.step <= 1000 and solver.step == solver.schedule.end, solver.schedule
    changes = [m["plan_change"] for m in solver.history if "plan_change" in m]
    assert changes == rule.changes and len(changes) == solver.schedule.decay_after // 50 - 1  # none at the first
    assert max(changes[-rule.patience:]) <= rule.settle
    x_test = problem.sample_source(4000, rng)
    y_test = solver.sample(x_test, seed=1).numpy()
    assert bw2_uvp(np.hstack([x_test, y_test]), problem.plan_mean, problem.plan_cov) < 1.0
    x_cond = x_test[:50]
    samples = solver.sample(x_cond, n_per_x=500, seed=2).numpy()
    target_var = np.trace(problem.target_cov)
    assert cbw2_uvp(samples, problem.conditional_mean(x_cond), problem.conditional_cov, target_var) < 2.0


def tiny():
    return neurot.EgNOT(eps=0.5, hidden=(16, 16), batch_size=32, buffer_size=100, langevin_steps=3, sample_steps=20)


def rule():
    """Settles at the first change (step 8): ``settle`` far above what a few steps move this plan."""
    return Stopping(every=4, min_steps=8, patience=1, decay=1.0, settle=100.0, points=64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2)) * 0.5 + 1


def test_a_stopped_fit_is_reproducible_and_resumes_exactly(data, tmp_path):
    """The plan settles at step 8 of at most 60; a crash during the decay, then resume from the checkpoint."""
    first = tiny().fit(*data, steps=60, seed=3, stop=rule())
    assert first.schedule.decay_after == 8 and first.step == first.schedule.end == 16
    again = tiny().fit(*data, steps=60, seed=3, stop=rule())
    assert again.history == first.history

    crash_step = first.schedule.decay_after + 3

    def crash(solver, step, metrics):
        if step == crash_step:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        tiny().fit(*data, steps=60, seed=3, stop=rule(), checkpoint_dir=tmp_path, checkpoint_every=2,
                   callbacks=[crash])
    resumed = tiny().fit(*data, steps=60, seed=3, stop=rule(), checkpoint_dir=tmp_path, checkpoint_every=2,
                         resume=True)
    assert resumed.history == first.history and resumed.schedule == first.schedule
    for key, value in first.potential.state_dict().items():
        assert torch.equal(value, resumed.potential.state_dict()[key]), key
    assert latest_checkpoint(tmp_path).name == f"step-{first.step:06d}"
    with pytest.raises(ValueError, match="another run: stop = 'a rule' there, None here"):
        tiny().fit(*data, steps=60, seed=3, stop=None, checkpoint_dir=tmp_path, resume=True)


def test_a_plan_that_keeps_moving_runs_the_schedule_draw_for_draw(data):
    """A fit that never settles is the fit without a rule: same history but for the changes, same weights."""
    solver = tiny().fit(*data, steps=60, seed=3, stop=Stopping(every=4, min_steps=8, settle=1e-9, points=64))
    plain = tiny().fit(*data, steps=60, seed=3, stop=None)
    assert solver.step == 60 and solver.schedule.decay_after is None
    assert len(solver.stopping.changes) == 60 // 4 - 1
    assert [{k: v for k, v in m.items() if k != "plan_change"} for m in solver.history] == plain.history
    for key, value in plain.potential.state_dict().items():
        assert torch.equal(value, solver.potential.state_dict()[key]), key


def test_auto_applies_to_the_mlp_potential_and_long_fits_only():
    solver = neurot.EgNOT(eps=0.5)
    assert solver._stop_rule("auto", 10_000) == Stopping()
    assert solver._stop_rule("auto", 3000) is None
    assert solver._stop_rule(None, 10_000) is None
    assert neurot.EgNOT(eps=0.5, cost=lambda x, y: ((x - y) ** 2).sum(1))._stop_rule("auto", 10_000) is not None
    assert neurot.LightSB(eps=0.5)._stop_rule("auto", 10_000) is None


def test_progress_lines_count_to_the_rule_s_end_not_the_cap(data, caplog):
    with caplog.at_level("INFO", logger="neurot.solvers.base"):
        solver = tiny().fit(*data, steps=60, seed=3, stop=rule(), progress="lines")
    assert solver.step < 60 and f"step {solver.step}/{solver.step} (100%)" in caplog.text


def test_sfeuot_takes_the_rule_too(data):
    solver = neurot.SFEUOT(eps=0.5, tau=1.0, hidden=(16, 16), generator_hidden=(16,), batch_size=32)
    solver.fit(*data, steps=60, seed=0, stop=rule())
    assert solver.schedule.decay_after is not None and solver.step == solver.schedule.end < 60


@pytest.mark.slow
@pytest.mark.parametrize(("eps", "most_steps"), [(0.1, 10_000), (1.0, 5000)])
def test_the_default_fit_of_a_d5_pair_meets_the_issue_bar_and_ends_early_where_the_plan_settles(eps, most_steps):
    """Issue #15: a default fit of a D = 5 pair within plan BW2-UVP 0.5 % and cBW2-UVP 1 %.

    Measured (BENCHMARKS.md): at eps = 1 the plan settles at step 1200 and the fit ends after 3600 steps; at eps = 0.1
    it keeps moving by about a nat per check and the fit runs the schedule.
    """
    problem = gaussian_benchmark_pair(5, eps=eps, seed=0)
    rng = np.random.default_rng(0)
    x_train, y_train = problem.sample_source(20_000, rng), problem.sample_target(20_000, rng)
    solver = neurot.EgNOT(eps=eps).fit(x_train, y_train, seed=0)
    assert solver.step <= most_steps
    x = problem.sample_source(20_000, rng)
    y = solver.sample(x, seed=0).numpy()
    assert bw2_uvp(np.hstack([x, y]), problem.plan_mean, problem.plan_cov) <= 0.5
    samples = solver.sample(x[:100], n_per_x=1000, seed=1).numpy()
    target_var = np.trace(problem.target_cov)
    assert cbw2_uvp(samples, problem.conditional_mean(x[:100]), problem.conditional_cov, target_var) <= 1.0
