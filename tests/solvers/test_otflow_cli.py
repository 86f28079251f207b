"""The example config trains an OT flow through the command line (a few steps)."""

from pathlib import Path

import numpy as np

from neurot.config import read_config
from neurot.runs import fit_run, load_run, sample_run

EXAMPLE = Path(__file__).parents[2] / "examples" / "moons_checkerboard.toml"


def test_example_config_runs(tmp_path):
    config = read_config(EXAMPLE)
    assert config["solver"]["name"] == "otflow"
    config["fit"]["steps"] = 6
    config["data"]["n_samples"] = 500
    config["solver"]["batch_size"] = 64
    config["solver"]["coupling_size"] = 128
    config["solver"]["coupled_pairs"] = 256
    fit_run(config, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "figure.png").exists()
    assert type(load_run(tmp_path / "run")).__name__ == "OTFlow"
    y = sample_run(tmp_path / "run", np.zeros((3, 2), dtype=np.float32), n_per_x=2)
    assert y.shape == (3, 2, 2)
