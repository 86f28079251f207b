"""The one-problem scripts of `benchmarks/` (`gaussian_pair.py`, `mixture_pair.py`, `far_cluster.py`) end to end,
with a few training steps."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
SHORT = json.dumps({"steps": 20, "sample_steps": 5})


def run(script, *args):
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                            timeout=300, check=True)
    return json.loads(result.stdout)


def test_gaussian_pair_scores_the_plan_beside_the_exact_samplers_floors():
    row = run("gaussian_pair.py", "egnot", "--dim", "2", "--eps", "1", "--pair-seed", "1", "--test-inputs", "2000",
              "--options", SHORT)
    assert row["steps_run"] == 20 and row["pair_seed"] == 1
    for name in ("plan_bw2_uvp", "target_bw2_uvp", "cbw2_uvp"):
        assert np.isfinite(row[name]) and row[name] > 0
        assert 0 < row[f"floor_{name}"] < 1  # exact draws: sampling noise only


def test_mixture_pair_row_is_the_score_over_the_floor():
    row = run("mixture_pair.py", "egnot", "--dim", "2", "--eps", "1", "--conditional-inputs", "5", "--options", SHORT)
    assert row["steps_run"] == 20
    assert row["ratio"] == pytest.approx(row["cbw2_uvp"] / row["floor"])


def test_far_cluster_share_is_a_percentage_of_the_draws():
    row = run("far_cluster.py", "--options", SHORT)
    assert 0 <= row["share_pct"] <= 100 and len(row["inlier_mean"]) == 2
