r"""EgNOT's amortised sampler against its Langevin chains on a Gaussian or mixture suite pair (issue #16).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/egnot_amortised.py --suite gaussian --dim 16 --eps 1 \\
        [--model DIR] [--amortise-steps 2000]

Fits EgNOT with its defaults as the suite does (the mixture pair on fresh draws), or loads ``--model`` when it
holds one (a fresh fit is saved there), then prints one JSON row per sampler: the chains alone (``sample_steps``
from the source), each amortised family alone (``steps=0``: one network evaluation) and followed by 30 Langevin
steps. Columns: cBW2-UVP % on ``--conditional-inputs`` test inputs (1000 draws each), its floor (the exact
sampler), samples per second, and the amortisation's seconds.
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

import neurot
from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import cbw2_uvp
from neurot.benchmarks.mixture import benchmark_pair
from neurot.benchmarks.suites import SUITES, fresh_draws


def conditional_truth(suite: str, problem, grid, rng):
    """``(x_cond [n, D], truth(samples) -> cBW2-UVP %, floor)`` of the suite's conditional metric."""
    n_x, n_per_x = grid.n_conditional
    x_cond = problem.sample_source(n_x, rng)
    if suite == "gaussian":
        means, covs, target_var = problem.conditional_mean(x_cond), problem.conditional_cov, float(
            np.trace(problem.target_cov))
    else:
        means, covs, target_var = problem.conditional_mean(x_cond), problem.conditional_cov(x_cond), \
            problem.target_variance(rng)

    def score(samples: np.ndarray) -> float:
        return cbw2_uvp(samples, means, covs, target_var)

    return x_cond, score, score(problem.sample_conditional(x_cond, n_per_x, rng))


def main() -> None:
    """Fit or load, amortise with each family, print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=("gaussian", "mixture"), default="gaussian")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--eps", type=float, default=1.0)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--amortise-steps", type=int, default=2000)
    parser.add_argument("--conditional-inputs", type=int, default=200, help="test inputs, 1000 draws each")
    args = parser.parse_args()
    grid = dataclasses.replace(SUITES[args.suite].full, n_conditional=(args.conditional_inputs, 1000))
    make = gaussian_benchmark_pair if args.suite == "gaussian" else benchmark_pair
    problem = make(args.dim, args.eps, grid.seed)
    rng = np.random.default_rng(grid.seed)
    x_train, y_train = problem.sample_source(grid.n_train, rng), problem.sample_target(grid.n_train, rng)
    if args.model is not None and (args.model / "config.json").exists():
        solver = neurot.EgNOT.load(args.model)
    else:
        # as the suites: the mixture suite's main column trains on fresh draws at every step
        data = (x_train, y_train) if args.suite == "gaussian" else fresh_draws(problem, grid.seed + 7)
        solver = neurot.EgNOT(args.eps).fit(*data, seed=grid.seed)
        if args.model is not None:
            solver.save(args.model)
    x_cond, score, floor = conditional_truth(args.suite, problem, grid, rng)
    n_per_x = grid.n_conditional[1]

    def row(sampler: str, steps: int, amortise_seconds: float | None = None) -> None:
        start = time.perf_counter()
        samples = solver.sample(x_cond.astype(np.float32), n_per_x, steps=steps, seed=1).numpy().astype(float)
        seconds = time.perf_counter() - start
        print(json.dumps({"suite": args.suite, "dim": args.dim, "eps": args.eps, "sampler": sampler,
                          "langevin_steps": steps, "cbw2_uvp": score(samples), "floor": floor,
                          "samples_per_s": samples.shape[0] * samples.shape[1] / seconds,
                          "amortise_s": amortise_seconds}), flush=True)

    row("chains", solver.config.sample_steps)
    for family in ("gaussian", "flow"):
        start = time.perf_counter()
        solver.amortise(x_train, args.amortise_steps, family=family)
        amortise_seconds = time.perf_counter() - start
        row(f"amortised {family}", 0, amortise_seconds)
        row(f"amortised {family} + chains", 30, amortise_seconds)


if __name__ == "__main__":
    main()
