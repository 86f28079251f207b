r"""One solver with options on one mixture-benchmark pair, scored as the mixture suite's finite-sample column.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/mixture_pair.py sfeuot --dim 16 --eps 10 \\
        [--pair-seed 0] [--conditional-inputs 200] [--options '{"steps": 6000}'] [--stop off]

The pair is ``benchmark_pair(dim, eps, pair_seed)`` (seed 0: the suite's pair; other seeds: held-out pairs of the
same recipe). The solver trains on 20k samples of each side with fit seed 0 and draws 1000 samples for each of
``--conditional-inputs`` test inputs (``--stop off``: every step, without the default stopping rule,
:class:`neurot.stopping.Stopping`); prints one JSON row: cBW2-UVP %, the exact sampler's floor on the same inputs,
their ratio, fit and sample seconds.
"""

import argparse
import json
import time

import numpy as np

import neurot
from neurot.benchmarks.metrics import cbw2_uvp
from neurot.benchmarks.mixture import benchmark_pair

N_TRAIN, N_PER_X = 20_000, 1000
SOLVERS = {"egnot": neurot.EgNOT, "sfeuot": neurot.SFEUOT, "lightsb": neurot.LightSB}


def pair_arguments(doc: str) -> argparse.ArgumentParser:
    """The command line shared by the one-pair scripts: solver, pair, options and stopping rule."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("solver", choices=sorted(SOLVERS))
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--eps", type=float, required=True)
    parser.add_argument("--pair-seed", type=int, default=0)
    parser.add_argument("--options", type=json.loads, default={}, help="solver options as a JSON object")
    parser.add_argument("--stop", choices=["auto", "off"], default="auto",
                        help="auto (default): the fit's stopping rule; off: every step")
    return parser


def fit(args: argparse.Namespace, x_train: np.ndarray, y_train: np.ndarray) -> tuple[object, dict]:
    """The solver of ``args`` fitted with seed 0, and the row's common fields (fit seconds and steps run)."""
    solver = SOLVERS[args.solver](args.eps, **args.options)
    start = time.perf_counter()
    solver.fit(x_train, y_train, seed=0, stop=None if args.stop == "off" else "auto")
    return solver, {"solver": args.solver, "dim": args.dim, "eps": args.eps, "pair_seed": args.pair_seed,
                    "options": args.options, "stop": args.stop, "steps_run": solver.step,
                    "fit_seconds": time.perf_counter() - start}


def main() -> None:
    """Fit, sample and print the JSON row (see the module)."""
    parser = pair_arguments(__doc__)
    parser.add_argument("--conditional-inputs", type=int, default=200)
    args = parser.parse_args()

    problem = benchmark_pair(args.dim, args.eps, args.pair_seed)
    rng = np.random.default_rng(args.pair_seed)
    x_train, y_train = problem.sample_source(N_TRAIN, rng), problem.sample_target(N_TRAIN, rng)
    x_cond = problem.sample_source(args.conditional_inputs, rng)
    means, covs = problem.conditional_mean(x_cond), problem.conditional_cov(x_cond)
    target_var = problem.target_variance(rng)
    floor = cbw2_uvp(problem.sample_conditional(x_cond, N_PER_X, rng), means, covs, target_var)

    solver, row = fit(args, x_train, y_train)
    start = time.perf_counter()
    samples = solver.sample(x_cond.astype(np.float32), n_per_x=N_PER_X, seed=1).cpu().numpy().astype(float)
    sample_seconds = time.perf_counter() - start
    score = cbw2_uvp(samples, means, covs, target_var)
    print(json.dumps({**row, "cbw2_uvp": score, "floor": floor, "ratio": score / floor,
                      "sample_seconds": sample_seconds}))


if __name__ == "__main__":
    main()
