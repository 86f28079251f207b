"""The single-cell suite on a toy time course: rows, units, the Sinkhorn reference and the command line."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurot.benchmarks.single_cell import (
    NO_POT,
    SingleCellGrid,
    check_plan_size,
    data_scale,
    day_references,
    select_days,
    single_cell_suite,
    sinkhorn_plan,
)
from neurot.benchmarks.suites import SOLVERS, format_table
from neurot.cli import main
from neurot.data import load_time_course
from neurot.solvers import OTFlow

MSCI = Path(__file__).parents[3] / "shared/data/msci"


def write_toy_course(directory: Path, factor: float = 1.0) -> Path:
    """Three days of 300 points in D = 5 whose Gaussian mean moves by 3 along the diagonal each day."""
    directory.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    direction = np.ones(5) / np.sqrt(5)
    for day in range(3):
        points = rng.normal(size=(300, 5)) + 3.0 * day * direction
        np.save(directory / f"toy_day{day}.npy", (factor * points).astype(np.float32))
    return directory


def toy_grid(directory: Path, *solvers: str) -> SingleCellGrid:
    return SingleCellGrid(solvers=solvers, data=str(directory), start=0.0, end=2.0, scored=(1.0,), steps=10)


@pytest.fixture
def toy(tmp_path) -> Path:
    return write_toy_course(tmp_path / "toy")


ROW_SCORES = ("energy", "floor", "start_day", "end_day", "pushforward", "floor_end", "fit_seconds", "sample_seconds",
              "scale")


def test_rows_of_the_quick_solvers(toy):
    rows = single_cell_suite(toy_grid(toy, "lightsb", "sfeuot", "sinkhorn"))
    assert [row["solver"] for row in rows] == ["lightsb", "sfeuot", "sinkhorn"]
    for row in rows:
        assert row["dim"] == 5 and row["day"] == 1.0 and row["t"] == 0.5 and row["eps"] == 0.1
        assert row["published_lightsb"] is None
        for key in ROW_SCORES:
            assert np.isfinite(row[key]), key
    sinkhorn = rows[-1]
    # Halfway bridges of the entropic plan land on day 1; day 0 itself is a whole step of 3 away.
    assert sinkhorn["energy"] < sinkhorn["start_day"] / 3
    assert sinkhorn["note"].endswith("Sinkhorn iterations")
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| solver | D | eps | day | energy | floor | start day | end day |")


def test_ot_flow_row_has_no_eps(toy, monkeypatch):
    small = {"coupling_size": 256, "coupled_pairs": 512, "hidden": (32,), "ode_steps": 4, "batch_size": 128}
    monkeypatch.setitem(SOLVERS, "otflow", lambda eps: OTFlow(**small))
    (row,) = single_cell_suite(toy_grid(toy, "otflow"))
    assert row["eps"] is None and all(np.isfinite(row[key]) for key in ROW_SCORES)


def test_scores_are_in_the_data_units(tmp_path):
    small, large = (single_cell_suite(toy_grid(write_toy_course(tmp_path / name, factor), "sinkhorn"))[0]
                    for name, factor in (("small", 1.0), ("large", 10.0)))
    assert large["scale"] == pytest.approx(10 * small["scale"], rel=1e-5)
    for key in ("energy", "floor", "start_day", "end_day", "pushforward", "floor_end"):
        assert large[key] == pytest.approx(10 * small[key], rel=1e-4), key


def test_sinkhorn_plan_is_the_entropic_plan_of_the_half_squared_distance(generator):
    x, y, eps = torch.randn(40, 3, generator=generator), torch.randn(50, 3, generator=generator) + 1, 0.5
    plan, iterations = sinkhorn_plan(x.double(), y.double(), eps, tol=1e-8)
    assert iterations > 0
    torch.testing.assert_close(plan.sum(1), torch.full((40,), 1 / 40, dtype=torch.float64))
    torch.testing.assert_close(plan.sum(0), torch.full((50,), 1 / 50, dtype=torch.float64), atol=1e-8, rtol=0)
    # pi_ij = exp((f_i + g_j - |x_i - y_j|^2 / 2) / eps): log pi + C / eps is a sum of a row and a column term.
    log_ratio = plan.log() + torch.cdist(x.double(), y.double()).square() / 2 / eps
    centred = log_ratio - log_ratio[:, :1] - log_ratio[:1, :] + log_ratio[0, 0]
    torch.testing.assert_close(centred, torch.zeros_like(centred), atol=1e-6, rtol=0)


def test_sinkhorn_row_without_pot_is_a_note(toy, monkeypatch):
    monkeypatch.setitem(sys.modules, "ot", None)
    (row,) = single_cell_suite(toy_grid(toy, "sinkhorn"))
    assert row["note"] == NO_POT and "energy" not in row


def test_plan_size_limit():
    check_plan_size(20_000, 20_000)
    with pytest.raises(ValueError, match="20k x 20k"):
        check_plan_size(20_001, 20_000)


def test_days_are_checked(toy):
    course = load_time_course(toy)
    assert list(course) == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="no day 4; its days are 0, 1, 2"):
        select_days(course, 0.0, 4.0, (1.0,))
    with pytest.raises(ValueError, match="strictly between"):
        select_days(course, 0.0, 1.0, (2.0,))
    with pytest.raises(ValueError, match="time_key and key are for single files"):
        load_time_course(toy, time_key="day")


def test_scale_and_published_numbers_of_the_protocol_days():
    rng = np.random.default_rng(0)
    days = {day: rng.normal(size=(20, 50)) * 2 for day in (2.0, 3.0, 4.0)}
    assert data_scale([np.array([[0.0, 1.0], [2.0, 5.0]])]) == pytest.approx((1 + 2) / 2)
    references = day_references(days, 2.0, 4.0, 3.0, seed=0)
    assert references["published_lightsb"] == 2.31 and references["published_enot"] == 2.44
    assert references["start_day"] == pytest.approx(references["end_day"], abs=1.0)


def test_cli_writes_the_table_and_json(toy, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "single-cell", "--data", str(toy), "--quick", "--start", "0", "--end", "2", "--scored", "1",
            "--solvers", "sinkhorn", "--eps", "0.2", "--out", str(out)]
    assert main(argv) == 0
    assert "| sinkhorn | 5 | 0.2 | 1 |" in capsys.readouterr().out
    record = json.loads((out / "single-cell.json").read_text())
    assert record["grid"]["data"] == str(toy) and record["grid"]["scored"] == [1.0]
    assert [row["solver"] for row in record["rows"]] == ["sinkhorn"]


@pytest.mark.parametrize(("argv", "message"), [
    (["single-cell"], "needs a time course: --data"),
    (["single-cell", "--data", "x", "--dims", "2"], "--dims does not apply to the single-cell suite"),
    (["gaussian", "--data", "x"], "--data does not apply to the gaussian suite"),
    (["single-cell", "--data", "x", "--solvers", "enot"], "unknown solvers ['enot']"),
    (["single-cell", "--data", "x", "--scored", "3,x"], "--scored takes comma-separated numbers"),
    (["single-cell", "--data", "x", "--eps", "0"], "eps must be a finite number > 0"),
])
def test_cli_rejects_bad_options(argv, message, tmp_path, capsys):
    assert main(["bench", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not MSCI.is_dir(), reason="the CITE-seq time course (shared/data/msci) is not here")
def test_msci_protocol_constants():
    days = select_days(load_time_course(MSCI), 2.0, 4.0, (3.0,))
    assert data_scale(days.values()) == pytest.approx(6.44, abs=0.005)
    references = day_references(days, 2.0, 4.0, 3.0, seed=0)
    assert references["start_day"] == pytest.approx(4.03, abs=0.01)
    assert references["end_day"] == pytest.approx(3.11, abs=0.01)
    assert references["published_lightsb"] == 2.31
