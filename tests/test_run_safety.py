"""A run is never lost: inputs are checked before anything is written, an existing run is replaced only with
--overwrite and stays byte for byte as it was when the new fit fails; batch jobs see progress lines and metrics
carry wall time and the last step."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurot.cli import main

CONFIG = """
[data]
source = "{source}"
target = "{target}"
[solver]
name = "sfeuot"
eps = 0.5
hidden = [8]
generator_hidden = [8]
batch_size = 16
[fit]
steps = 7
log_every = 5
"""


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "p.npy", rng.normal(size=(200, 2)))
    np.save(tmp_path / "q.npy", rng.normal(size=(200, 2)) + 1)
    bad = rng.normal(size=(200, 2))
    bad[17, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "wide.npy", rng.normal(size=(200, 3)))
    for name, (source, target) in {"good": ("p", "q"), "nan": ("p", "nan"), "wide": ("p", "wide")}.items():
        (tmp_path / f"{name}.toml").write_text(CONFIG.format(source=tmp_path / f"{source}.npy",
                                                             target=tmp_path / f"{target}.npy"))
    return tmp_path


def fit(files, config, *flags):
    return main(["fit", str(files / f"{config}.toml"), "--out", str(files / "run"), *flags])


def test_a_second_fit_needs_overwrite_and_a_failed_one_leaves_the_run_as_it_was(files, capsys):
    assert fit(files, "good") == 0
    before = snapshot(files / "run")
    assert {"config.json", "check.json", "metrics.jsonl", "model/weights.safetensors"} <= set(before)
    capsys.readouterr()
    assert fit(files, "good") == 2
    assert "holds a run already: --overwrite replaces it" in capsys.readouterr().err
    for config, message in [("nan", "NaN or infinite"), ("wide", "target")]:
        assert fit(files, config, "--overwrite") == 2
        assert message in capsys.readouterr().err
        assert snapshot(files / "run") == before
    assert fit(files, "good", "--overwrite", "--resume") == 2
    assert snapshot(files / "run") == before
    assert fit(files, "good", "--overwrite", "--seed", "3") == 0
    after = snapshot(files / "run")
    assert after["model/weights.safetensors"] != before["model/weights.safetensors"]
    assert json.loads(after["config.json"])["fit"]["seed"] == 3


def test_metrics_have_wall_time_and_the_last_step_and_batch_jobs_get_progress_lines(files, capsys):
    assert fit(files, "good") == 0  # stderr is not a terminal under pytest
    lines = [json.loads(line) for line in (files / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 5, 7]
    seconds = [line["seconds"] for line in lines]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    err = capsys.readouterr().err
    assert "sfeuot fit: step 7/7 (100%)" in err and "it/s" in err and "left" in err
