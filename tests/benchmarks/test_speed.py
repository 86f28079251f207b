import math

import pytest

from neurot.benchmarks.speed import sampling, throughput, time_to_accuracy
from neurot.benchmarks.suites import format_table

TINY = {"hidden": (16,), "batch_size": 64, "langevin_steps": 3, "sample_steps": 5, "buffer_size": 256}


def _plausible_memory(row):
    """Peak resident MiB of a process that imported torch, and the measured call's own share of it."""
    assert math.isfinite(row["peak_mib"]) and 50 < row["peak_mib"] < 100_000
    assert 0 <= row["added_mib"] < row["peak_mib"]


def test_throughput_profiles_the_langevin_chains_and_measures_the_fit_memory():
    row = throughput(2, 1.0, TINY, iterations=2, warmup=1)
    assert row["it_per_s"] > 0
    # Three kernel steps per iteration dominate a 16-unit network's training step.
    assert 0.2 < row["langevin_share"] <= 1.0
    assert row["top_ops"].count("%") == 3
    _plausible_memory(row)
    # A 2 x 512 network on batches of 2048 (about 60 MiB more, when written) against a 16-unit one on 64 (about 1).
    wide = throughput(2, 1.0, {**TINY, "hidden": (512, 512), "batch_size": 2048}, iterations=1, warmup=1)
    _plausible_memory(wide)
    assert wide["added_mib"] > row["added_mib"] + 20


def test_sampling_reports_speed_memory_and_output_size():
    row = sampling(2, 1.0, 20_000, 2, 4096, fit_steps=2, options=TINY)
    assert row["samples_per_s"] > 0
    assert row["output_mib"] == pytest.approx(20_000 * 2 * 4 / 2**20)
    _plausible_memory(row)


def test_time_to_accuracy_reports_each_threshold_once():
    rows = time_to_accuracy(2, 1.0, {**TINY, "steps": 20}, eval_every=10, n_test=500, thresholds=(1e6, 1e-9))
    by_threshold = {row["threshold"]: row for row in rows}
    assert by_threshold[1e6]["reached_at_step"] == 10 and by_threshold[1e6]["reached_after_s"] > 0
    assert by_threshold[1e-9]["reached_at_step"] is None
    assert 0.03 in by_threshold and by_threshold[0.03]["paper"]  # the paper's D = 2, eps = 1 number
    assert rows[-1]["plan_bw2_uvp"] == pytest.approx(rows[0]["plan_bw2_uvp"])


def test_speed_rows_render():
    table = format_table([{"suite": "speed", "case": "x", "dim": 2, "eps": 1.0, "it_per_s": 3.0, "peak_mib": 400.0},
                          {"suite": "speed", "case": "y", "dim": 2, "eps": 1.0, "samples_per_s": 5e5,
                           "peak_mib": 420.0, "added_mib": 36.0, "output_mib": 7.6}])
    assert "| case | D | eps | it/s | samples/s | peak MiB | added MiB | output MiB |" in table
    assert "| x | 2 | 1 | 3 | - | 400 | - | - |" in table
    assert "| y | 2 | 1 | - | 500000 | 420 | 36 | 7.6 |" in table
