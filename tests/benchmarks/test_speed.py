import pytest

from neurot.benchmarks.speed import throughput, time_to_accuracy
from neurot.benchmarks.suites import format_table

TINY = {"hidden": (16,), "batch_size": 64, "langevin_steps": 3, "sample_steps": 5, "buffer_size": 256}


def test_throughput_profiles_the_langevin_chains():
    row = throughput(2, 1.0, TINY, iterations=2, warmup=1)
    assert row["it_per_s"] > 0
    # Three kernel steps per iteration dominate a 16-unit network's training step.
    assert 0.2 < row["langevin_share"] <= 1.0
    assert row["top_ops"].count("%") == 3


def test_time_to_accuracy_reports_each_threshold_once():
    rows = time_to_accuracy(2, 1.0, {**TINY, "steps": 20}, eval_every=10, n_test=500, thresholds=(1e6, 1e-9))
    by_threshold = {row["threshold"]: row for row in rows}
    assert by_threshold[1e6]["reached_at_step"] == 10 and by_threshold[1e6]["reached_after_s"] > 0
    assert by_threshold[1e-9]["reached_at_step"] is None
    assert 0.03 in by_threshold and by_threshold[0.03]["paper"]  # the paper's D = 2, eps = 1 number
    assert rows[-1]["plan_bw2_uvp"] == pytest.approx(rows[0]["plan_bw2_uvp"])


def test_speed_rows_render():
    table = format_table([{"suite": "speed", "case": "x", "dim": 2, "eps": 1.0, "it_per_s": 3.0}])
    assert "| x | 2 | 1 | 3 |" in table
