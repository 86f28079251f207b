"""The command line: default example end to end, sampling from a run, config errors."""

import json

import numpy as np
import pytest

from neurot.cli import main
from neurot.config import read_config
from neurot.runs import load_data


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "default"
    assert main(["fit", "--out", str(out), "--steps", "20"]) == 0
    return out


def test_default_fit_leaves_config_weights_metrics_and_figure(default_run):
    assert (default_run / "model" / "weights.safetensors").stat().st_size > 0
    config = json.loads((default_run / "config.json").read_text())
    assert config["solver"] == {"name": "egnot", "eps": 0.1} and config["fit"]["steps"] == 20
    lines = [json.loads(line) for line in (default_run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 10, 20]
    assert all(np.isfinite(m["loss"]) for m in lines)
    assert (default_run / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    check = json.loads((default_run / "check.json").read_text())  # toy sets: checked on fresh draws
    assert check["held_out"] and check["energy"] > check["floor"] and check["final_loss"] == lines[-1]["loss"]


def test_holdout_keeps_points_out_of_training_and_checks_on_them(tmp_path):
    points = np.arange(200, dtype=np.float32).reshape(100, 2)
    np.save(tmp_path / "x.npy", points)
    data = {"source": str(tmp_path / "x.npy"), "target": str(tmp_path / "x.npy"), "n_samples": 10, "seed": 0}
    split = load_data(data, holdout=0.2, seed=1)
    assert len(split.source) == 80 and len(split.check_source) == 20 and split.held_out
    assert not set(split.source[:, 0]) & set(split.check_source[:, 0])
    whole = load_data(data, holdout=0.0)
    assert len(whole.source) == 100 and not whole.held_out



def test_sample_command(default_run, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((7, 2), dtype=np.float32))
    assert main(["sample", str(default_run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"),
                 "--n-per-x", "3", "--seed", "0"]) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (7, 3, 2) and np.isfinite(y).all()


def test_sample_reads_tables_and_writes_exactly_the_named_file(default_run, tmp_path, capsys):
    np.savetxt(tmp_path / "x.csv", np.zeros((5, 2)), delimiter=",", header="a,b", comments="")
    assert main(["sample", str(default_run), "--input", str(tmp_path / "x.csv"), "--out", str(tmp_path / "y.csv"),
                 "--seed", "0"]) == 0
    assert np.loadtxt(tmp_path / "y.csv", delimiter=",").shape == (5, 2) and not (tmp_path / "y.csv.npy").exists()
    assert main(["sample", str(default_run), "--input", str(tmp_path / "x.csv"), "--out", str(tmp_path / "y.bin")]) == 2
    assert "must end in .npy" in capsys.readouterr().err
    assert main(["sample", str(default_run), "--input", str(tmp_path / "x.csv"), "--out", str(tmp_path / "z.csv"),
                 "--n-per-x", "2"]) == 2
    assert "write them to a .npy file" in capsys.readouterr().err
    (tmp_path / "text.npy").write_text("1,2\n3,4\n")
    out = str(tmp_path / "y.npy")
    assert main(["sample", str(default_run), "--input", str(tmp_path / "text.npy"), "--out", out]) == 2
    assert "is not a .npy array without pickled objects" in capsys.readouterr().err
    assert not (tmp_path / "z.csv").exists() and not (tmp_path / "y.npy").exists()


def test_plot_command(default_run, tmp_path):
    (default_run / "figure.png").unlink()
    assert main(["plot", str(default_run)]) == 0
    assert (default_run / "figure.png").exists()
    assert main(["plot", str(default_run), "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_toml_config_with_files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "p.npy", rng.normal(size=(300, 3)))
    np.savetxt(tmp_path / "q.csv", rng.normal(size=(300, 3)) + 1, delimiter=",")
    (tmp_path / "run.toml").write_text(
        f'[data]\nsource = "{tmp_path / "p.npy"}"\ntarget = "{tmp_path / "q.csv"}"\n'
        '[solver]\nname = "egnot"\neps = 0.5\nhidden = [16, 16]\nbatch_size = 32\n[fit]\nsteps = 3\nlog_every = 1\n'
    )
    assert main(["fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "run")]) == 0
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3


DATA = "[data]\nsource = 'moons'\ntarget = 'checkerboard'\n"
SOLVER = "[solver]\nname = 'egnot'\neps = 1\n"
COURSE = "[data]\ntime_course = 'c.npz'\n"


@pytest.mark.parametrize(
    "text,message",
    [
        (DATA + SOLVER + "[fit]\nsorce = 'moons'\n", "unknown keys in [fit]"),
        (DATA + SOLVER + "[fit]\nstop = 'early'\n", "must be one of ['auto', 'off'], got 'early'"),
        ("[solvr]\neps = 1\n", "unknown tables"),
        (DATA + "[solver]\nname = 'egnot'\neps = -1\n", "eps must be a finite number > 0"),
        (DATA + "[solver]\nname = 'egnot'\neps = 1\nlr0 = 2\n", "unknown EgNOT options"),
        (DATA + "[solver]\nname = 'sinkhorn'\n", "solver name must be one of"),
        (DATA + "[solver]\nname = 'sfeuot'\n", "[solver] sfeuot needs eps (no default"),
        (DATA, "needs a [solver] table"),
        ("[data]\nsource = 'moons'\n" + SOLVER, "[data] in"),
        ("[data]\nsource = 'nowhere.npy'\ntarget = 'moons'\n" + SOLVER, "neither a toy data set"),
        ("[data\n", "not valid TOML"),
        (COURSE + "source = 'moons'\nsource_time = 1\ntarget_time = 2\n" + SOLVER,
         "give either time_course or source, not both"),
        (COURSE + "source_time = 1\n" + SOLVER, "time_course in"),
        (DATA + "source_time = 1\n" + SOLVER, "source_time in"),
        (COURSE + "source_time = 'day1'\ntarget_time = 2\n" + SOLVER, "source_time in"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, capsys, text, message):
    (tmp_path / "bad.toml").write_text(text)
    assert main(["fit", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "out"), "--steps", "1"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("given", "passed"), [([], "auto"), (["--stop", "auto"], "auto"), (["--stop", "off"], None)])
def test_stop_reaches_the_fit(tmp_path, monkeypatch, given, passed):
    """``[fit] stop`` / ``--stop``: the fit's ``stop`` argument, checked with the rest before anything is written."""
    import neurot.solvers.base

    seen = {}

    def check_fit(solver, *args, stop=None, **kwargs):
        seen["stop"] = stop
        raise ValueError("checked")

    monkeypatch.setattr(neurot.solvers.base.Solver, "check_fit", check_fit)
    (tmp_path / "run.toml").write_text(DATA + SOLVER)
    assert main(["fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out"), *given]) == 2
    assert seen == {"stop": passed} and not (tmp_path / "out").exists()


def test_examples_are_listed(capsys):
    assert main(["examples"]) == 0
    listing = capsys.readouterr().out
    assert "digits-2to3" in listing and "digits-latent" in listing


def test_unknown_example_and_example_with_config_are_errors(tmp_path, capsys):
    assert main(["fit", "--example", "mnist", "--out", str(tmp_path / "out")]) == 2
    assert "unknown example 'mnist'" in capsys.readouterr().err
    (tmp_path / "c.toml").write_text("")
    assert main(["fit", str(tmp_path / "c.toml"), "--example", "digits-2to3", "--out", str(tmp_path / "o")]) == 2
    assert "not both" in capsys.readouterr().err


def test_bench_rejects_a_bad_number_of_conditional_inputs(tmp_path, capsys):
    assert main(["bench", "mixture", "--conditional-inputs", "0", "--out", str(tmp_path)]) == 2
    assert "--conditional-inputs" in capsys.readouterr().err


def test_relative_data_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "c.toml").write_text('[data]\nsource = "moons"\ntarget = "sub/q.npy"\n' + SOLVER)
    monkeypatch.chdir(tmp_path / "..")
    data = read_config(tmp_path / "c.toml")["data"]
    assert data["source"] == "moons" and data["target"] == str(tmp_path / "sub" / "q.npy")


def test_time_course_config_fits_between_two_times_of_an_h5ad_file(tmp_path, monkeypatch, capsys):
    anndata = pytest.importorskip("anndata")
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    days = np.repeat(["day2", "day4", "day7"], 40)
    pca = rng.normal(size=(120, 2)).astype(np.float32) + np.repeat([0.0, 1.0, 2.0], 40)[:, None]
    obs = pandas.DataFrame({"day": days}, index=[f"cell{i}" for i in range(120)])
    anndata.AnnData(X=rng.normal(size=(120, 5)).astype(np.float32), obs=obs, obsm={"X_pca": pca}).write_h5ad(
        tmp_path / "cells.h5ad")
    (tmp_path / "run.toml").write_text(
        '[data]\ntime_course = "cells.h5ad"\ntime_key = "day"\nkey = "X_pca"\nsource_time = 2\ntarget_time = 7\n'
        '[solver]\nname = "sfeuot"\neps = 0.1\nhidden = [16]\ngenerator_hidden = [16]\nbatch_size = 16\n'
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "run"), "--steps", "5"]) == 0
    assert (tmp_path / "run" / "model").is_dir()
    # The end-of-run check scores day 4, at t = (4 - 2) / (7 - 2) of the plan, and 4 held-out cells of each end.
    check = json.loads((tmp_path / "run" / "check.json").read_text())
    assert set(check) == {"energy", "floor", "energy_t=0.4", "held_out", "fit_seconds", "final_loss"}
    assert check["held_out"] and "t=0.4" in capsys.readouterr().out
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data["time_course"] == str(tmp_path / "cells.h5ad") and "source" not in data and "target" not in data
    (tmp_path / "run" / "figure.png").unlink()
    assert main(["plot", str(tmp_path / "run")]) == 0


def test_a_time_the_course_lacks_is_a_clear_error(tmp_path, capsys):
    np.savez(tmp_path / "course.npz", day1=np.zeros((3, 2)), day2=np.ones((3, 2)))
    course = '[data]\ntime_course = "course.npz"\nsource_time = 1\ntarget_time = 3\n'
    (tmp_path / "run.toml").write_text(course + SOLVER)
    assert main(["fit", str(tmp_path / "run.toml"), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    assert "target_time = 3 is not a time of" in capsys.readouterr().err
