r"""One solver with options on one Gaussian-benchmark pair: plan, target and conditional BW2-UVP against the floors.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/gaussian_pair.py egnot --dim 16 --eps 0.1 \\
        [--pair-seed 0] [--test-inputs 20000] [--options '{"steps": 6000}'] [--stop off]

The pair is ``gaussian_benchmark_pair(dim, eps, pair_seed)`` (seed 0: the Gaussian suite's pair; other seeds:
held-out pairs with other random means and covariances). The solver trains on 20k samples of each side (drawn with
seed 0 for every pair) with fit seed 0, as in :mod:`mixture_pair`, whose command line this shares. The plan and its
target marginal are scored on ``--test-inputs`` inputs, one draw each, and the conditionals on the first 100 of
them, 1000 draws each (BW2-UVP %, docs/math.md section 4), each beside the exact sampler's score on the same inputs.
Prints one JSON row.
"""

import json
import time

import numpy as np
from mixture_pair import N_PER_X, N_TRAIN, fit, pair_arguments

from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp, cbw2_uvp

CONDITIONAL_INPUTS = 100
#: Seed of the training and test draws, whatever the pair.
DRAW_SEED = 0


def main() -> None:
    """Fit, sample and print the JSON row (see the module)."""
    parser = pair_arguments(__doc__)
    parser.add_argument("--test-inputs", type=int, default=20_000)
    args = parser.parse_args()

    problem = gaussian_benchmark_pair(args.dim, args.eps, args.pair_seed)
    rng = np.random.default_rng(DRAW_SEED)
    x_train, y_train = problem.sample_source(N_TRAIN, rng), problem.sample_target(N_TRAIN, rng)
    x_test = problem.sample_source(args.test_inputs, rng)
    x_cond = x_test[:CONDITIONAL_INPUTS]

    def scores(y: np.ndarray, y_cond: np.ndarray) -> dict[str, float]:
        return {"plan_bw2_uvp": bw2_uvp(np.hstack([x_test, y]), problem.plan_mean, problem.plan_cov),
                "target_bw2_uvp": bw2_uvp(y, problem.target_mean, problem.target_cov),
                "cbw2_uvp": cbw2_uvp(y_cond, problem.conditional_mean(x_cond), problem.conditional_cov,
                                     float(np.trace(problem.target_cov)))}

    floor = scores(problem.sample_conditional(x_test, 1, rng)[:, 0], problem.sample_conditional(x_cond, N_PER_X, rng))
    solver, row = fit(args, x_train, y_train)
    start = time.perf_counter()
    y = solver.sample(x_test.astype(np.float32), seed=1).cpu().numpy().astype(float)
    y_cond = solver.sample(x_cond.astype(np.float32), n_per_x=N_PER_X, seed=2).cpu().numpy().astype(float)
    sample_seconds = time.perf_counter() - start
    print(json.dumps({**row, **scores(y, y_cond), **{f"floor_{k}": v for k, v in floor.items()},
                      "sample_seconds": sample_seconds}))


if __name__ == "__main__":
    main()
