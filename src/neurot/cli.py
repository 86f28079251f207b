"""The ``neurot`` command: argument parsing, then library calls (``python -m neurot`` works too)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neurot._validation import check_device, check_int
from neurot.config import STOP_CHOICES, merge_config, read_config
from neurot.solvers import DivergenceError


def _fit(args: argparse.Namespace) -> None:
    from neurot import distributed
    from neurot.io import read_json
    from neurot.runs import CHECK_FILE, RUN_CONFIG, fit_run, format_check

    if args.example:
        if args.resume:
            raise ValueError("--resume continues a config run; examples always start afresh")
        _fit_example(args)
        return
    if args.resume and args.config:
        raise ValueError("--resume continues the run in --out with its own config.json: do not pass a config")
    config = read_config(Path(args.out) / RUN_CONFIG if args.resume else args.config)
    overrides = {"steps": args.steps, "device": args.device, "seed": args.seed,
                 "checkpoint_every": args.checkpoint_every, "stop": args.stop}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = merge_config(config, {"fit": overrides}, source="command line")
    progress = {"auto": None, "bar": True, "lines": "lines", "off": False}[args.progress]
    fit_run(config, args.out, progress=progress, resume=args.resume, overwrite=args.overwrite)
    if distributed.launched_rank() == 0:
        print(format_check(read_json(Path(args.out) / CHECK_FILE)))
        print(f"run written to {args.out}")


def _fit_example(args: argparse.Namespace) -> None:
    from neurot.examples import run_example

    if args.config:
        raise ValueError("give either a config file or --example NAME, not both")
    device = check_device("--device", args.device)
    metrics = run_example(args.example, args.out, overwrite=args.overwrite, steps=args.steps, seed=args.seed or 0,
                          device=device)
    print(", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in metrics.items()))
    print(f"run written to {args.out}")


def _examples(args: argparse.Namespace) -> None:
    from neurot.examples import EXAMPLES

    width = max(map(len, EXAMPLES))
    for example in EXAMPLES.values():
        print(f"{example.name:<{width}}  {example.description}")


def _sample(args: argparse.Namespace) -> None:
    from neurot.data import read_points
    from neurot.data.files import read_array
    from neurot.runs import sample_run

    out = Path(args.out)
    table = out.suffix.lower() in (".csv", ".txt")
    if out.suffix.lower() != ".npy" and not table:
        raise ValueError(f"--out {out} must end in .npy, or in .csv / .txt for one sample per input point")
    if table and args.n_per_x is not None:
        raise ValueError("--n-per-x gives samples [M, K, D]: write them to a .npy file")
    source = Path(args.input)
    x = read_array(source) if source.suffix.lower() == ".npy" else read_points(source, key=args.key)
    y = sample_run(args.run_dir, x, n_per_x=args.n_per_x, seed=args.seed)
    if table:
        np.savetxt(out, y.reshape(len(y), -1), delimiter="," if out.suffix.lower() == ".csv" else " ")
    else:
        with out.open("wb") as handle:  # np.save(path) would append .npy to other names
            np.save(handle, y)
    print(f"{y.shape} samples written to {out}")


def _plot(args: argparse.Namespace) -> None:
    from neurot.config import read_config as read
    from neurot.plotting import plot_run
    from neurot.runs import FIGURE_FILE, RUN_CONFIG, load_data, load_run, read_metrics

    run_dir = Path(args.run_dir)
    config = read(run_dir / RUN_CONFIG)
    if "example" in config:
        raise ValueError(f"{run_dir} is a run of the example {config['example']!r}: its figure is figure.png")
    data = load_data(config["data"])
    path = plot_run(load_run(run_dir), data.source, data.target, args.out or run_dir / FIGURE_FILE,
                    history=read_metrics(run_dir))
    print(f"figure written to {path}")


def _bench(args: argparse.Namespace) -> None:
    import dataclasses
    import json
    import platform

    import torch

    from neurot.benchmarks.suites import SUITES, format_table

    if args.suite not in ["all", *SUITES]:
        raise ValueError(f"suite must be one of {['all', *SUITES]}, got {args.suite!r}")
    names = [args.suite] if args.suite != "all" else [n for n in SUITES if n != "single-cell" or args.data]
    if args.suite == "all" and not args.data:
        print("the single-cell suite is left out: it runs on a time course given by --data", file=sys.stderr)
    grids = {name: _bench_grid(name, args, explicit=args.suite != "all") for name in names}
    device = check_device("--device", args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, grid in grids.items():
        rows = SUITES[name].run(grid, device=device, log=lambda message: print(message, file=sys.stderr))
        table = format_table(rows)
        print(f"\n## {name}{' (quick)' if args.quick else ''}\n\n{table}")
        record = {"suite": name, "quick": args.quick, "grid": dataclasses.asdict(grid), "rows": rows,
                  "machine": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "device": str(device)}
        (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nresults written to {out / (name + '.json')}")


#: ``neurot bench`` options that set a field of a suite's grid: option -> (field, parse(text, grid)).
GRID_OPTIONS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "dims": ("dims", lambda text, grid: [int(d) for d in _numbers("--dims", text)]),
    "conditional_inputs": ("n_conditional", lambda n, grid: (_positive("--conditional-inputs", n),
                                                             grid.n_conditional[1])),
    "data": ("data", lambda text, grid: text),
    "start": ("start", lambda day, grid: day),
    "end": ("end", lambda day, grid: day),
    "scored": ("scored", lambda text, grid: tuple(_numbers("--scored", text))),
    "time_key": ("time_key", lambda text, grid: text),
    "key": ("key", lambda text, grid: text),
    "eps": ("eps", lambda eps, grid: eps),
}


def _bench_grid(name: str, args: argparse.Namespace, explicit: bool) -> Any:
    """The grid of suite ``name`` with the command line's choices; ``explicit``: the suite was named, not ``all``.

    An option that sets no field of the suite's grid is an error for a named suite and ignored under ``all``.
    """
    import dataclasses

    from neurot.benchmarks.suites import SOLVERS, SUITES

    suite = SUITES[name]
    grid = suite.quick if args.quick else suite.full
    if args.solvers:
        solvers = args.solvers.split(",")
        known = [*SOLVERS, *suite.references]
        unknown = sorted(set(solvers) - set(known))
        if unknown:
            raise ValueError(f"unknown solvers {unknown}; the {name} suite runs some of {sorted(known)}")
        grid = dataclasses.replace(grid, solvers=solvers)
    for option, (field, parse) in GRID_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if option in suite.options:
            grid = dataclasses.replace(grid, **{field: parse(value, grid)})
        elif explicit:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to the {name} suite" + (
                ": it takes its dimension and inputs from --data" if name == "single-cell" else ""))
    return grid


def _positive(flag: str, n: int) -> int:
    check_int(flag, n)
    return n


def _numbers(flag: str, text: str) -> list[float]:
    """The comma-separated numbers of ``text`` (the value of ``flag``)."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``neurot``."""
    parser = argparse.ArgumentParser(prog="neurot", description="Neural optimal transport from samples.")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train from a TOML/JSON config (default: 2-D Gaussian -> Swiss roll)")
    fit.add_argument("config", nargs="?", help="TOML or JSON config; omitted: the built-in default example")
    fit.add_argument("--out", default="runs/default", help="run directory (default: runs/default)")
    fit.add_argument("--steps", type=int, help="training iterations (overrides the config)")
    fit.add_argument("--device", help="torch device: cpu (default), cuda, or auto (cuda when available)")
    fit.add_argument("--seed", type=int, help="random seed")
    fit.add_argument("--example", help="run a named example instead of a config (see `neurot examples`)")
    fit.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    fit.add_argument("--overwrite", action="store_true",
                     help="replace the run in --out (without it an existing run is never touched)")
    fit.add_argument("--progress", choices=("auto", "bar", "lines", "off"), default="auto",
                     help="a progress bar, a line with the rate and the time left every 30 s, or nothing (default "
                     "auto: a bar on a terminal, else lines)")
    fit.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 200; also at the end)")
    fit.add_argument("--stop", choices=STOP_CHOICES, help="auto (default): end once the plan has settled, --steps "
                     "being the most (EgNOT's MLP potential; others run every step); off: run every step")
    fit.set_defaults(run=_fit)

    examples = commands.add_parser("examples", help="list the examples that `neurot fit --example NAME` runs")
    examples.set_defaults(run=_examples)

    sample = commands.add_parser("sample", help="draw from a trained run's plan for source points in a file")
    sample.add_argument("run_dir")
    sample.add_argument("--input", required=True,
                        help="source points [M, D]: .npy (any point shape), .npz, .csv, .txt or .h5ad")
    sample.add_argument("--key", help="the array of an .npz input, or the obsm entry of an .h5ad input")
    sample.add_argument("--out", required=True,
                        help="the samples: .npy ([M, D], or [M, K, D] with --n-per-x) or .csv / .txt ([M, D])")
    sample.add_argument("--n-per-x", type=int, help="K samples per source point")
    sample.add_argument("--seed", type=int)
    sample.set_defaults(run=_sample)

    bench = commands.add_parser("bench", help="accuracy and speed tables against exact ground truth")
    bench.add_argument("suite", nargs="?", default="all",
                       help="gaussian, mixture, unbalanced, dynamic, speed, single-cell or all (default; "
                       "single-cell only with --data)")
    bench.add_argument("--quick", action="store_true",
                       help="the reduced grid, minutes on a CPU: D in {2, 16}; single-cell: the fast solvers")
    bench.add_argument("--solvers", help="comma-separated solver names (default: the suite's)")
    bench.add_argument("--dims", help="comma-separated dimensions (default: the grid's)")
    bench.add_argument("--conditional-inputs", type=int,
                       help="test inputs of the cBW2-UVP metric (default: the grid's, 1000 for the mixture suite)")
    bench.add_argument("--data", metavar="DIR_OR_FILE", help="single-cell: a time course, a folder of one .npy/.csv "
                       "file per day (named like day2.npy) or an .h5ad, .npz or CSV file")
    bench.add_argument("--start", type=float, metavar="DAY", help="single-cell: the start day (default 2)")
    bench.add_argument("--end", type=float, metavar="DAY", help="single-cell: the end day (default 4)")
    bench.add_argument("--scored", metavar="DAYS",
                       help="single-cell: comma-separated days between them to score (default 3)")
    bench.add_argument("--time-key", help="single-cell: the column of times of an .h5ad (obs) or CSV file")
    bench.add_argument("--key", help="single-cell: the points of an .h5ad file, an obsm entry such as X_pca")
    bench.add_argument("--eps", type=float, help="single-cell: entropic regularisation in the scaled units (0.1)")
    bench.add_argument("--device", help="torch device: cpu (default), cuda, or auto (cuda when available)")
    bench.add_argument("--out", default="bench-results", help="directory for the JSON results")
    bench.set_defaults(run=_bench)

    plot = commands.add_parser("plot", help="redraw a run's figure: data, conditionals, paths, loss curve")
    plot.add_argument("run_dir")
    plot.add_argument("--out", help="the PNG to write (default: RUN_DIR/figure.png)")
    plot.set_defaults(run=_plot)
    return parser


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    """While a command runs, print neurot's log records at INFO and above (progress of batch jobs, warnings)."""
    logger = logging.getLogger("neurot")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("neurot: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, 1 for diverged training; the reason on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        with _log_to_stderr():
            args.run(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        print(f"neurot: error: {error}", file=sys.stderr)
        return 2
    except DivergenceError as error:
        print(f"neurot: {error}", file=sys.stderr)
        return 1
    return 0
