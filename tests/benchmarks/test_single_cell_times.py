"""`benchmarks/single_cell_times.py` end to end on a small time course the test writes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "single_cell_times.py"


def test_scores_one_plan_at_every_time_and_after_each_chain_length(tmp_path):
    rng = np.random.default_rng(0)
    for day in (2, 3, 4):
        np.save(tmp_path / f"day{day}.npy", rng.normal(day, 1.0, size=(300, 3)))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "sfeuot", "--data", str(tmp_path), "--steps", "20", "--times", "0.3,0.5",
         "--refine", "2,5"], capture_output=True, text=True, timeout=300, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["chain_steps"] for row in rows] == [0, 2, 5]
    assert rows[0]["spread"] > 0 and rows[0]["fit_seconds"] > 0
    for row in rows:
        assert {"day3_t=0.3", "day3_t=0.5", "push", "cost"} <= row.keys()
        assert all(np.isfinite(value) for key, value in row.items() if key != "solver")
    assert 0 < rows[1]["acceptance"] <= 1


def test_refine_is_for_sfeuot_only(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "lightsb", "--data", str(tmp_path), "--refine", "5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--refine needs an SF-EUOT solver" in result.stderr
