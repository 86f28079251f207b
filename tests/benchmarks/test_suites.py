"""The benchmark suites run end to end on a tiny grid and report floors below model scores' scale."""

import numpy as np

from neurot.benchmarks.suites import Grid, format_table, gaussian_suite, mixture_suite


def test_gaussian_suite_tiny_grid():
    grid = Grid(dims=(2,), eps=(1.0,), solvers=("egnot-gmm",), n_train=2000, n_test=2000, n_conditional=(10, 200))
    rows = gaussian_suite(grid)
    assert len(rows) == 1
    row = rows[0]
    assert row["paper_egnot_plan_bw2_uvp"] == 0.03
    for key in ("plan_bw2_uvp", "target_bw2_uvp", "cbw2_uvp", "floor_cbw2_uvp", "fit_seconds"):
        assert np.isfinite(row[key]) and row[key] >= 0
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| solver | D | eps | plan BW2-UVP %")
    assert "egnot-gmm" in table


def test_mixture_suite_tiny_grid():
    grid = Grid(dims=(2,), eps=(10.0,), solvers=("egnot-gmm",), n_train=2000, n_conditional=(20, 200))
    (row,) = mixture_suite(grid)
    assert row["published_lightsb"] == 0.07 and row["floor_cbw2_uvp"] > 0
    assert np.isfinite(row["cbw2_uvp"])
