"""Reading point sets and time courses from files the tests write: values round-trip, errors name the file."""

import re
import sys

import numpy as np
import pytest

from neurot.data import read_points, read_time_course, read_time_course_dir

RNG = np.random.default_rng(0)
POINTS = RNG.normal(size=(6, 3))


def write_cells(path):
    """An .h5ad file of 7 cells x 4 genes (sparse X), a 2-D PCA in obsm and day labels in obs; returns the arrays."""
    anndata = pytest.importorskip("anndata")
    pandas = pytest.importorskip("pandas")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    x = RNG.poisson(1.0, size=(7, 4)).astype(np.float32)
    pca = RNG.normal(size=(7, 2)).astype(np.float32)
    days = ["day2", "day2", "day3", "day5", "day3", "day5", "day2"]
    obs = pandas.DataFrame({"day": days, "batch": ["a"] * 7}, index=[f"cell{i}" for i in range(7)])
    anndata.AnnData(X=scipy_sparse.csr_matrix(x), obs=obs, obsm={"X_pca": pca}).write_h5ad(path)
    return x, pca, np.array([float(d[3:]) for d in days])


def test_npy_and_npz_round_trip_as_float32(tmp_path):
    np.save(tmp_path / "p.npy", POINTS)
    np.savez(tmp_path / "one.npz", cells=POINTS)
    np.savez(tmp_path / "two.npz", a=POINTS, b=2 * POINTS)
    for path, key in [("p.npy", None), ("one.npz", None), ("two.npz", "a")]:
        points = read_points(tmp_path / path, key=key)
        assert points.dtype == np.float32 and points.flags.c_contiguous
        np.testing.assert_allclose(points, POINTS, rtol=1e-6)
    np.testing.assert_allclose(read_points(str(tmp_path / "two.npz"), key="b"), 2 * POINTS, rtol=1e-6)


def test_csv_and_text_with_and_without_header(tmp_path):
    np.savetxt(tmp_path / "plain.csv", POINTS, delimiter=",")
    (tmp_path / "header.csv").write_text('x,"y 2",z\n' + "".join(",".join(map(str, row)) + "\n" for row in POINTS))
    np.savetxt(tmp_path / "spaces.txt", POINTS, header="made by savetxt")
    (tmp_path / "named.txt").write_text("a b c\n\n" + "".join(" ".join(map(str, row)) + "\n" for row in POINTS))
    for name in ("plain.csv", "header.csv", "spaces.txt", "named.txt"):
        np.testing.assert_allclose(read_points(tmp_path / name), POINTS, rtol=1e-6)


def test_h5ad_reads_dense_x_from_sparse_and_an_obsm_entry(tmp_path):
    x, pca, _ = write_cells(tmp_path / "cells.h5ad")
    np.testing.assert_array_equal(read_points(tmp_path / "cells.h5ad"), x)
    np.testing.assert_array_equal(read_points(tmp_path / "cells.h5ad", key="X_pca"), pca)
    with pytest.raises(ValueError, match=r"cells\.h5ad has no obsm entry 'X_umap'; its obsm entries are \['X_pca'\]"):
        read_points(tmp_path / "cells.h5ad", key="X_umap")


def test_h5ad_time_course_groups_cells_by_the_number_in_their_label(tmp_path):
    _, pca, days = write_cells(tmp_path / "cells.h5ad")
    course = read_time_course(tmp_path / "cells.h5ad", time_key="day", key="X_pca")
    assert list(course) == [2.0, 3.0, 5.0]
    for time, points in course.items():
        np.testing.assert_array_equal(points, pca[days == time])
    assert course[2.0].shape == (3, 2)


def test_h5ad_time_course_errors_name_the_file_column_and_label(tmp_path):
    write_cells(tmp_path / "cells.h5ad")
    missing = r"cells\.h5ad has no obs column 'time'; its obs columns are \['day', 'batch'\]"
    with pytest.raises(ValueError, match=missing):
        read_time_course(tmp_path / "cells.h5ad", time_key="time")
    with pytest.raises(ValueError, match=r"cells\.h5ad: obs column 'batch': the label 'a' has no number"):
        read_time_course(tmp_path / "cells.h5ad", time_key="batch")
    with pytest.raises(ValueError, match=r"cells\.h5ad: a time course in a \.h5ad file needs time_key"):
        read_time_course(tmp_path / "cells.h5ad")


def test_missing_anndata_is_an_import_error_naming_the_extra(tmp_path, monkeypatch):
    (tmp_path / "cells.h5ad").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "anndata", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'neurot[singlecell]'")):
        read_points(tmp_path / "cells.h5ad")


def test_csv_time_course_uses_the_named_column_for_times(tmp_path):
    rows = ["day,g1,g2", "D0,1,2", "D0,3,4", "D1.5,5,6", "D1.5,7,8", "D1.5,9,10"]
    (tmp_path / "cells.csv").write_text("\n".join(rows) + "\n")
    course = read_time_course(tmp_path / "cells.csv", time_key="day")
    assert list(course) == [0.0, 1.5]
    np.testing.assert_array_equal(course[1.5], [[5, 6], [7, 8], [9, 10]])
    with pytest.raises(ValueError, match=r"cells\.csv has no column 'time'; its columns are \['day', 'g1', 'g2'\]"):
        read_time_course(tmp_path / "cells.csv", time_key="time")
    np.savetxt(tmp_path / "plain.csv", POINTS, delimiter=",")
    with pytest.raises(ValueError, match=r"plain\.csv has no header row"):
        read_time_course(tmp_path / "plain.csv", time_key="day")


def test_npz_and_folder_time_courses_take_the_time_from_the_name(tmp_path):
    np.savez(tmp_path / "course.npz", **{"day2": POINTS, "t_0.5": -POINTS})
    course = read_time_course(tmp_path / "course.npz")
    assert list(course) == [0.5, 2.0]
    np.testing.assert_allclose(course[0.5], -POINTS, rtol=1e-6)
    folder = tmp_path / "folder"
    folder.mkdir()
    np.save(folder / "cite_pca50_day3.npy", POINTS)
    np.savetxt(folder / "cite_pca50_day2.csv", 2 * POINTS, delimiter=",")
    (folder / "README.md").write_text("ignored")
    course = read_time_course_dir(folder)
    assert list(course) == [2.0, 3.0]
    np.testing.assert_allclose(course[2.0], 2 * POINTS, rtol=1e-6)


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"day2": POINTS, "late": POINTS}, r"course\.npz: array 'late' does not end in its time"),
        ({"day2": POINTS, "d2": POINTS}, r"course\.npz: arrays 'day2' and 'd2' both give the time 2"),
    ],
)
def test_npz_time_course_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "course.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        read_time_course(tmp_path / "course.npz")


def test_folder_time_course_errors(tmp_path):
    with pytest.raises(ValueError, match=r"has no \.npy or \.csv files"):
        read_time_course_dir(tmp_path)
    np.save(tmp_path / "day2.npy", POINTS)
    np.savetxt(tmp_path / "cells_2.csv", POINTS, delimiter=",")
    with pytest.raises(ValueError, match=r"files '.*' and '.*' both give the time 2"):
        read_time_course_dir(tmp_path)


@pytest.mark.parametrize(
    "label,message",
    [("late", "has no number"), ("rep1_day2", "has 2 numbers"), ("nan", "is not a time")],
)
def test_labels_need_exactly_one_number(tmp_path, label, message):
    (tmp_path / "cells.csv").write_text(f"t,x\n{label},1\n{label},2\n")
    with pytest.raises(ValueError, match=rf"cells\.csv: column 't': the label '{label}' {message}"):
        read_time_course(tmp_path / "cells.csv", time_key="t")


def test_non_numeric_cell_names_the_file_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3, column 2 \('b'\): 'oops' is not a number"):
        read_points(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("1,2\n3\n")
    with pytest.raises(ValueError, match=r"short\.csv, line 2: expected 2 columns"):
        read_points(tmp_path / "short.csv")


def test_nan_rows_are_counted(tmp_path):
    points = POINTS.copy()
    points[1, 0], points[4, :] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", points)
    with pytest.raises(ValueError, match=r"nan\.npy: 2 of 6 rows have NaN or infinite values"):
        read_points(tmp_path / "nan.npy")


@pytest.mark.parametrize(
    "array,message",
    [
        (np.zeros(5), r"expected a 2-D array \[N, D\]"),
        (np.zeros((1, 3)), "expected at least 2 points"),
        (np.array([["a", "b"], ["c", "d"]]), "expected numbers"),
    ],
)
def test_shapes_and_dtypes_are_checked(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ValueError, match=rf"bad\.npy: {message}"):
        read_points(tmp_path / "bad.npy")


def test_keys_and_files_are_checked(tmp_path):
    np.savez(tmp_path / "two.npz", a=POINTS, b=POINTS)
    with pytest.raises(ValueError, match=r"two\.npz holds the arrays \['a', 'b'\]: set key"):
        read_points(tmp_path / "two.npz")
    with pytest.raises(ValueError, match=r"two\.npz has no array 'c'; its arrays are \['a', 'b'\]"):
        read_points(tmp_path / "two.npz", key="c")
    np.save(tmp_path / "p.npy", POINTS)
    with pytest.raises(ValueError, match=r"p\.npy: key cannot be used with a \.npy file"):
        read_points(tmp_path / "p.npy", key="a")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"objects\.npy is not a \.npy array without pickled objects"):
        read_points(tmp_path / "objects.npy")
    with pytest.raises(FileNotFoundError, match=r"missing\.npy does not exist"):
        read_points(tmp_path / "missing.npy")
    (tmp_path / "p.json").write_text("[]")
    with pytest.raises(ValueError, match=r"p\.json: expected a file ending in one of \.npy, \.npz"):
        read_points(tmp_path / "p.json")
