"""The benchmark suites run end to end on a tiny grid and report floors below model scores' scale."""

import numpy as np
import pytest

from neurot.benchmarks.dynamic_suite import DynamicGrid, dynamic_suite
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


def test_dynamic_suite_tiny_grid():
    """``neurot bench dynamic --quick``-style rows on a 2-D grid of 300 OT flow steps, against the closed forms."""
    grid = DynamicGrid(dims=(2,), n_train=4000, n_test=1000, steps=300)
    gaussian, mi = dynamic_suite(grid)
    assert [gaussian["case"], mi["case"]] == ["gaussian", "mi"]
    for row in (gaussian, mi):
        assert row["suite"] == "dynamic" and row["dim"] == 2 and row["steps"] == 300
        assert row["fit_seconds"] > 0 and row["fit_cpu_seconds"] > 0
    assert gaussian["l2_uvp"] < 2 and gaussian["inversion"] < 1e-3  # 0.23 % and 1e-7 when written
    assert gaussian["kinetic_rel_error"] == pytest.approx(gaussian["kinetic"] / gaussian["ot_cost"] - 1)
    assert abs(gaussian["kinetic_rel_error"]) < 0.2 and gaussian["log_ratio_rel_rmse"] < 0.6  # -0.10, 0.45
    assert mi["mi_exact"] == pytest.approx(-0.5 * np.log(1 - 0.8**2))
    assert mi["mi_rel_error"] == pytest.approx(mi["mi"] / mi["mi_exact"] - 1)
    assert abs(mi["mi_rel_error"]) < 0.3 and mi["log_ratio_rel_rmse"] < 0.6  # +0.12, 0.38
    table = format_table([gaussian, mi])
    assert table.splitlines()[0].startswith("| case | D | steps | map L2-UVP %")
    with pytest.raises(ValueError, match="OT flow only"):
        dynamic_suite(DynamicGrid(dims=(2,), solvers=("egnot",)))


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

    assert set(SUITES) >= {"gaussian", "mixture", "unbalanced", "dynamic", "speed", "single-cell"}
    assert main(["bench", "unbalanced", "--dims", "2", "--out", str(tmp_path)]) == 2
    assert "--dims does not apply to the unbalanced suite" in capsys.readouterr().err
    assert main(["bench", "gaussian", "--solvers", "sinkhorn", "--out", str(tmp_path)]) == 2
    assert "unknown solvers ['sinkhorn']" in capsys.readouterr().err
