"""Point sets from files: ``.npy``, ``.npz``, CSV / text tables and AnnData ``.h5ad``; time courses (one set per time).

Nothing is unpickled (``allow_pickle=False``). Reading ``.h5ad`` needs AnnData: ``pip install 'neurot[singlecell]'``.
Every point set comes back as a finite ``float32`` array ``[N, D]`` with ``N >= 2``; errors name the file.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

POINT_SUFFIXES = (".npy", ".npz", ".csv", ".txt", ".h5ad")
TIME_COURSE_SUFFIXES = (".npz", ".csv", ".txt", ".h5ad")
FOLDER_SUFFIXES = (".npy", ".csv")

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TRAILING_NUMBER = re.compile(r"(\d+(?:\.\d+)?)$")

Table = list[tuple[int, list[str]]]
"""The data rows of a table: ``(line number, cells)``."""


def read_points(path: str | Path, *, key: str | None = None) -> np.ndarray:
    """The points ``[N, D]`` (float32) stored in a ``.npy``, ``.npz``, ``.csv``, ``.txt`` or ``.h5ad`` file.

    ``key``: the array of an ``.npz`` file (may be omitted when it holds one array) or the ``obsm`` entry of an
    ``.h5ad`` file such as ``"X_pca"`` (omitted: its ``X``, dense or sparse). A ``.csv`` (comma-separated) or ``.txt``
    (whitespace-separated) table may start with a header row; blank lines and ``#`` comments are skipped.
    """
    path = _existing_file(path, POINT_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = _npz_arrays(path)
        name = _pick_array(path, arrays, key)
        return _points(f"{path} (array {name!r})", arrays[name])
    if suffix == ".h5ad":
        return _points(*_anndata_matrix(path, _read_h5ad(path), key))
    _reject_unused(path, key=key)
    if suffix == ".npy":
        return _points(str(path), _read_npy(path))
    header, rows = _read_table(path)
    return _points(str(path), _floats(path, header, rows, range(len(rows[0][1]))))


def read_time_course(
    path: str | Path, *, time_key: str | None = None, key: str | None = None
) -> dict[float, np.ndarray]:
    """The point sets ``{time: [N_t, D]}`` (sorted by time) of a time course stored in one file.

    ``.h5ad``: the ``obs`` column ``time_key`` labels each cell with its time (a number, or text holding one number
    such as ``"day2"`` or ``"D4.5"``; labels with the same number are one time); ``key`` picks the ``obsm`` entry of
    the points as in :func:`read_points`. ``.csv`` / ``.txt`` with a header row: the column ``time_key`` holds the
    times, the other columns are the features. ``.npz``: one array per time, each named with the time at its end
    (``day2``, ``t_0.5``).
    """
    path = _existing_file(path, TIME_COURSE_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _reject_unused(path, time_key=time_key, key=key)
        arrays = _npz_arrays(path)
        times = _times_of_names({name: name for name in arrays}, f"{path}: array")
        return {time: _points(f"{path} (array {name!r})", arrays[name]) for time, name in times.items()}
    if time_key is None:
        raise ValueError(f"{path}: a time course in a {suffix} file needs time_key, the column that holds the times")
    if suffix == ".h5ad":
        return _h5ad_time_course(path, time_key, key)
    _reject_unused(path, key=key)
    return _table_time_course(path, time_key)


def load_time_course(path: str | Path, *, time_key: str | None = None,
                     key: str | None = None) -> dict[float, np.ndarray]:
    """``{time: [N_t, D]}`` from a folder or a file: :func:`read_time_course_dir` or :func:`read_time_course`."""
    if Path(path).is_dir():
        if time_key is not None or key is not None:
            raise ValueError(f"{path} is a folder of one file per time: time_key and key are for single files")
        return read_time_course_dir(path)
    return read_time_course(path, time_key=time_key, key=key)


def read_time_course_dir(directory: str | Path) -> dict[float, np.ndarray]:
    """The point sets ``{time: [N_t, D]}`` (sorted by time) of a folder of ``.npy`` / ``.csv`` files, one per time.

    Each ``.npy`` / ``.csv`` file name ends in its time (``cite_pca50_day2.npy``, ``cells_t0.5.csv``); files of
    other kinds are ignored.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"time-course folder {directory} does not exist or is not a folder")
    files = {path.name: path for path in directory.iterdir() if path.suffix.lower() in FOLDER_SUFFIXES}
    if not files:
        raise ValueError(f"{directory} has no .npy or .csv files; expected one per time point, named like day2.npy")
    times = _times_of_names({name: files[name].stem for name in files}, f"{directory}: file")
    return {time: read_points(files[name]) for time, name in times.items()}


def _existing_file(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: expected a file ending in one of {', '.join(suffixes)}")
    return path


def _reject_unused(path: Path, **options: str | None) -> None:
    """Raise when an option that this kind of file does not use was given."""
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise ValueError(f"{path}: {' and '.join(given)} cannot be used with a {path.suffix} file")


def _points(name: str, array: Any) -> np.ndarray:
    """``array`` as a contiguous float32 ``[N, D]`` array, checked: numbers, 2-D, finite, at least 2 rows."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected numbers, got an array of dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name}: expected a 2-D array [N, D] of N points with D >= 1 features, got {array.shape}")
    with np.errstate(over="ignore"):
        points = np.ascontiguousarray(array, dtype=np.float32)
    bad = int((~np.isfinite(points)).any(axis=1).sum())
    if bad:
        raise ValueError(f"{name}: {bad} of {len(points)} rows have NaN or infinite values (drop or impute them)")
    if len(points) < 2:
        raise ValueError(f"{name}: expected at least 2 points (rows), got {len(points)}")
    return points


def read_array(path: str | Path) -> np.ndarray:
    """The array of a ``.npy`` file, any shape (pickled objects refused), with the file named in errors."""
    return _read_npy(_existing_file(path, (".npy",)))


def _read_npy(path: Path) -> np.ndarray:
    try:
        with path.open("rb") as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not a .npy array without pickled objects: {error}") from error


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, by name."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz archive (a zip file of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not an .npz archive of arrays without pickled objects: {error}") from error


def _pick_array(path: Path, arrays: dict[str, np.ndarray], key: str | None) -> str:
    if key is None and len(arrays) == 1:
        return next(iter(arrays))
    if key is None:
        raise ValueError(f"{path} holds the arrays {sorted(arrays)}: set key to the one to read")
    if key not in arrays:
        raise ValueError(f"{path} has no array {key!r}; its arrays are {sorted(arrays)}")
    return key


def _read_h5ad(path: Path) -> Any:
    """The AnnData object of an ``.h5ad`` file."""
    try:
        import anndata
    except ImportError as error:
        raise ImportError(f"reading {path} needs the anndata package: pip install 'neurot[singlecell]'") from error
    try:
        return anndata.read_h5ad(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a readable .h5ad (AnnData) file: {error}") from error


def _anndata_matrix(path: Path, adata: Any, key: str | None) -> tuple[str, np.ndarray]:
    """A name for the points and the points ``[cells, D]``: ``X`` when ``key`` is None, else ``obsm[key]``."""
    obsm_keys = sorted(adata.obsm.keys())
    if key is None:
        if adata.X is None:
            raise ValueError(f"{path} has no X matrix: set key to one of its obsm entries {obsm_keys}")
        name, matrix = f"{path} (X)", adata.X
    elif key not in adata.obsm:
        raise ValueError(f"{path} has no obsm entry {key!r}; its obsm entries are {obsm_keys}")
    else:
        name, matrix = f"{path} (obsm[{key!r}])", adata.obsm[key]
    return name, matrix.toarray() if scipy.sparse.issparse(matrix) else np.asarray(matrix)


def _h5ad_time_course(path: Path, time_key: str, key: str | None) -> dict[float, np.ndarray]:
    adata = _read_h5ad(path)
    if time_key not in adata.obs.columns:
        raise ValueError(f"{path} has no obs column {time_key!r}; its obs columns are {list(adata.obs.columns)}")
    name, matrix = _anndata_matrix(path, adata, key)
    labels = adata.obs[time_key].astype(str).to_numpy()
    return _group_by_time(name, _points(name, matrix), labels, f"{path}: obs column {time_key!r}")


def _table_time_course(path: Path, time_key: str) -> dict[float, np.ndarray]:
    header, rows = _read_table(path)
    if header is None:
        raise ValueError(f"{path} has no header row: a time course table needs one, with a column {time_key!r}")
    if time_key not in header:
        raise ValueError(f"{path} has no column {time_key!r}; its columns are {header}")
    column = header.index(time_key)
    features = [j for j in range(len(header)) if j != column]
    labels = np.array([cells[column] for _, cells in rows])
    points = _points(str(path), _floats(path, header, rows, features))
    return _group_by_time(str(path), points, labels, f"{path}: column {time_key!r}")


def _group_by_time(name: str, points: np.ndarray, labels: np.ndarray, where: str) -> dict[float, np.ndarray]:
    """Rows of ``points [N, D]`` grouped by the time in their ``labels [N]``: ``{time: [N_t, D]}``, sorted."""
    unique, inverse = np.unique(labels, return_inverse=True)
    times = np.array([_label_time(str(label), where) for label in unique])[inverse]
    course = {}
    for time in np.unique(times):
        rows = points[times == time]
        if len(rows) < 2:
            raise ValueError(f"{name}: time {time:g} has {len(rows)} point; expected at least 2 per time")
        course[float(time)] = rows
    return course


def _label_time(label: str, where: str) -> float:
    """The time of a label: a number (``4.5``) or the one number in a text (``day2``, ``D4``)."""
    if _is_number(label):
        if not math.isfinite(float(label)):
            raise ValueError(f"{where}: the label {label!r} is not a time (a missing label?)")
        return float(label)
    numbers = _NUMBER.findall(label)
    if len(numbers) != 1:
        found = "no number" if not numbers else f"{len(numbers)} numbers"
        raise ValueError(f"{where}: the label {label!r} has {found}; expected one time such as 2, day2 or D4.5")
    return float(numbers[0])


def _times_of_names(names: dict[str, str], what: str) -> dict[float, str]:
    """``{time: name}`` sorted by time, the time being the number that ends ``names[name]`` (``day2 -> 2``)."""
    times: dict[float, str] = {}
    for name, text in names.items():
        match = _TRAILING_NUMBER.search(text)
        if match is None:
            raise ValueError(f"{what} {name!r} does not end in its time, a number (like day2 or t_0.5)")
        time = float(match.group(1))
        if time in times:
            raise ValueError(f"{what}s {times[time]!r} and {name!r} both give the time {time:g}")
        times[time] = name
    return dict(sorted(times.items()))


def _read_table(path: Path) -> tuple[list[str] | None, Table]:
    """The header row of a CSV (comma) or text (whitespace) table, None without one, and its data rows.

    The first row is a header when one of its cells is not a number. Blank lines and ``#`` comments are skipped;
    every row must have as many cells as the first.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            if path.suffix.lower() == ".csv":
                reader = csv.reader(handle)
                rows = [(reader.line_num, cells) for cells in reader]
            else:
                rows = [(number, line.split()) for number, line in enumerate(handle, 1)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path} is not a UTF-8 text table: {error}") from error
    rows = [(n, [c.strip() for c in cells]) for n, cells in rows if "".join(cells).strip()]
    rows = [(n, cells) for n, cells in rows if not cells[0].startswith("#")]
    header = None
    if rows and not all(map(_is_number, rows[0][1])):
        header, rows = rows[0][1], rows[1:]
    if not rows:
        raise ValueError(f"{path} has no rows of numbers")
    width = len(header or rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise ValueError(f"{path}, line {line}: expected {width} columns like the first row, found {len(cells)}")
    return header, rows


def _floats(path: Path, header: list[str] | None, rows: Table, columns: Sequence[int]) -> np.ndarray:
    """The cells of ``columns`` (indices) as numbers ``[rows, columns]``; a cell that is not one is a ValueError."""
    try:
        return np.array([[cells[j] for j in columns] for _, cells in rows], dtype=np.float64)
    except ValueError:
        for line, cells in rows:
            for j in columns:
                if not _is_number(cells[j]):
                    named = f" ({header[j]!r})" if header else ""
                    message = f"{path}, line {line}, column {j + 1}{named}: {cells[j]!r} is not a number"
                    raise ValueError(message) from None
        raise


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
