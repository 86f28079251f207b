"""`neurot fit --resume`: a run killed with SIGKILL continues from its last checkpoint; metrics continue at the
checkpoint's step without gaps or duplicates; the result is the uninterrupted run's."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neurot.cli import main
from neurot.config import read_config
from neurot.io import read_tensors
from neurot.runs import MetricsWriter, fit_run

SRC = Path(__file__).parents[1] / "src"
CONFIG = """
[data]
source = "gaussian"
target = "moons"
n_samples = 1000
[solver]
name = "egnot"
eps = 0.5
hidden = [8]
batch_size = 32
langevin_steps = 2
sample_steps = 5
buffer_size = 200
[fit]
steps = 200
log_every = 10
checkpoint_every = 20
"""


def neurot_process(*args):
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "neurot", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def logged(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def steps_logged(run):
    return [line["step"] for line in logged(run)]


def test_sigkilled_run_resumes_from_its_checkpoint(tmp_path):
    (tmp_path / "run.toml").write_text(CONFIG)
    run = tmp_path / "run"
    process = neurot_process("fit", str(tmp_path / "run.toml"), "--out", str(run))
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "step-000020").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "model").exists()
    killed_at = max(steps_logged(run))
    assert 20 <= killed_at < 200

    resumed = neurot_process("fit", "--resume", "--out", str(run))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert steps_logged(run) == [1, *range(10, 201, 10)]

    config = read_config(tmp_path / "run.toml")
    fit_run(config, tmp_path / "uninterrupted", progress=False)
    resumed_lines, lines = logged(run), logged(tmp_path / "uninterrupted")
    seconds = [line.pop("seconds") for line in resumed_lines]
    assert resumed_lines == [{k: v for k, v in line.items() if k != "seconds"} for line in lines]
    assert seconds == sorted(seconds)  # the resumed run continues the killed run's clock
    weights = read_tensors(run / "model" / "weights.safetensors")
    reference = read_tensors(tmp_path / "uninterrupted" / "model" / "weights.safetensors")
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


def test_resume_needs_a_run_and_no_config(tmp_path, capsys):
    assert main(["fit", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "config file" in capsys.readouterr().err
    (tmp_path / "run.toml").write_text(CONFIG)
    assert main(["fit", str(tmp_path / "run.toml"), "--resume", "--out", str(tmp_path / "run")]) == 2
    assert "do not pass a config" in capsys.readouterr().err


def test_diverged_training_exits_with_the_message(tmp_path, capsys):
    unstable = 'sampler = "ula"\nstep_size = 1e38\nlangevin_steps = 50\n'  # noise of 1e19 per step: |y|^2 overflows
    (tmp_path / "run.toml").write_text(CONFIG.replace("langevin_steps = 2\n", unstable))
    assert main(["fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "run")]) == 1
    assert "EgNOT training diverged at step 1: Langevin chain diverged" in capsys.readouterr().err


def test_metrics_writer_continues_a_file_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 0.0}) + "\n" for s in (1, 10, 20, 30)) + '{"step": 4')
    writer = MetricsWriter(path, log_every=10)
    for step in range(21, 41):
        writer(None, step, {"step": step, "loss": 1.0})
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 10, 20, 30, 40]
    assert json.loads(path.read_text().splitlines()[3])["loss"] == 1.0


def test_tensorboard_logging(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = read_config(None)
    config["data"]["n_samples"] = 500
    config["solver"] |= {"hidden": [8], "batch_size": 16, "langevin_steps": 1}
    config["fit"] |= {"steps": 20, "tensorboard": True}
    fit_run(config, tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == [1, 10, 20]
