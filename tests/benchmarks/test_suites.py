"""The benchmark suites run end to end on a tiny grid and report floors below model scores' scale."""

import numpy as np

from neurot.benchmarks.suites import SUITES, Grid, format_table, gaussian_suite, mixture_suite
from neurot.benchmarks.unbalanced_suite import UnbalancedGrid, unbalanced_suite


def test_gaussian_suite_tiny_grid():
    grid = Grid(dims=(2,), eps=(1.0,), solvers=("lightsb",), n_train=2000, n_test=2000, n_conditional=(10, 200))
    rows = gaussian_suite(grid)
    assert len(rows) == 1
    row = rows[0]
    assert row["paper_egnot_plan_bw2_uvp"] == 0.03
    for key in ("plan_bw2_uvp", "target_bw2_uvp", "cbw2_uvp", "floor_cbw2_uvp", "fit_seconds"):
        assert np.isfinite(row[key]) and row[key] >= 0
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| solver | D | eps | plan BW2-UVP %")
    assert "lightsb" in table


def test_mixture_suite_tiny_grid():
    grid = Grid(dims=(2,), eps=(10.0,), solvers=("lightsb",), n_train=2000, n_conditional=(20, 200))
    (row,) = mixture_suite(grid)
    assert row["published_lightsb"] == 0.07 and row["floor_cbw2_uvp"] > 0
    assert np.isfinite(row["cbw2_uvp"]) and np.isfinite(row["cbw2_uvp_finite"])
    assert row["cbw2_uvp"] < 10 * row["floor_cbw2_uvp"]  # fresh draws: LightSB near the floor at eps = 10


def test_unbalanced_suite_tiny_grid_discards_the_outliers_only_when_unbalanced():
    grid = UnbalancedGrid(taus=(1.0,), psis=("kl",), solvers=("sfeuot",), n_train=4000, n_test=4000, steps=300)
    rows = unbalanced_suite(grid)
    gaussian, balanced, unbalanced = rows
    assert (gaussian["case"], balanced["tau"], unbalanced["tau"]) == ("gaussian", None, 1.0)
    assert gaussian["mean_error"] < 0.3 and abs(gaussian["mass"] - 1) < 0.2 and gaussian["weight_error"] < 0.5
    assert unbalanced["outlier_share"] < 0.5 and unbalanced["inlier_error"] < 0.2
    assert balanced["exact_outlier_share"] == 2.0
    assert format_table(rows).splitlines()[0].startswith("| case | solver | eps | tau")


def test_every_suite_runs_from_one_registry_with_its_own_options(tmp_path, capsys):
    from neurot.cli import main

    assert set(SUITES) >= {"gaussian", "mixture", "unbalanced", "speed", "single-cell"}
    assert main(["bench", "unbalanced", "--dims", "2", "--out", str(tmp_path)]) == 2
    assert "--dims does not apply to the unbalanced suite" in capsys.readouterr().err
    assert main(["bench", "gaussian", "--solvers", "sinkhorn", "--out", str(tmp_path)]) == 2
    assert "unknown solvers ['sinkhorn']" in capsys.readouterr().err
