r"""One fitted plan on the single-cell protocol, scored at several times, and against its potential's conditionals.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/single_cell_times.py sfeuot --data ../shared/data/msci \
        [--times 0.4,0.45,0.5,0.55,0.6,0.65] [--refine 25,100,300,800] [--steps N] [--seed 0]

The LightSB paper's protocol (days 2 -> 4 at eps = 0.1, scored at day 3; :mod:`neurot.benchmarks.single_cell`)
puts the day-3 cells at ``t = 0.5``, the share of the days elapsed. The solver is fitted with its defaults; every
day-2 cell gets one partner ``y ~ pi(. | x)`` and one Brownian-bridge point at each ``t`` of ``--times``, scored
against day 3 (energy distance in the data's units). Beside it: the partners against day 4 ("push", about 0 for a
plan on its target marginal), the transport cost ``E |x - y|^2 / 2`` in the solver's units, and its share from the
conditionals' spread, ``E_x tr Cov(y | x) / 2`` (16 draws for each of 1000 day-2 cells).

``--refine`` (SF-EUOT only) runs split-MALA chains (step ``eps / 10``) on the Gibbs conditionals of the fitted end
potential ``g = V(1, .)``, ``pi_g(y | x) ∝ exp((g(y) - |x - y|^2 / 2) / eps)``, started at the generator's draws,
and scores the partners the same way after each number of steps: how the one-step generator's plan and the plan
its potential defines differ on real data. Prints one JSON row per plan.
"""

import argparse
import json
import time

import torch

from neurot.benchmarks.metrics import half_energy_distance
from neurot.benchmarks.single_cell import data_scale, select_days
from neurot.benchmarks.suites import SOLVERS
from neurot.bridges import bridge_points
from neurot.costs import quadratic
from neurot.data import load_time_course
from neurot.samplers import GaussianSplitMALA, Target, run_chain

START, END, SCORED, EPS = 2.0, 4.0, 3.0, 0.1


def scores(x: torch.Tensor, y: torch.Tensor, days: dict[float, torch.Tensor], scale: float,
           times: list[float], seed: int) -> dict[str, float]:
    """Day-3 score of the bridge points at every ``t``, push against day 4, and transport cost, of pairs ``x, y``."""
    generator = torch.Generator().manual_seed(seed)
    row = {f"day3_t={t:g}": half_energy_distance(
        bridge_points(x, y, torch.full((len(x),), t), EPS, generator) * scale, days[SCORED] * scale)
        for t in times}
    return row | {"push": half_energy_distance(y * scale, days[END] * scale),
                  "cost": float(quadratic(x, y).mean())}


def refine(solver, x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> tuple[torch.Tensor, float]:
    """``steps`` split-MALA steps from ``y`` on ``pi_g(. | x)`` of a fitted SF-EUOT; the chains and acceptance."""
    ones = torch.ones(len(x))
    target = Target(lambda z: (quadratic(x, z) - solver.potential(ones, z)) / EPS,
                    gaussian=quadratic.gaussian_reference(x, EPS))
    result = run_chain(GaussianSplitMALA(EPS / 10), target, y, steps, torch.Generator().manual_seed(seed))
    return result.state.y, result.acceptance


def main() -> None:
    """Fit, score and print (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solver", choices=sorted(SOLVERS))
    parser.add_argument("--data", required=True, help="the time course (a folder of one file per day, or a file)")
    parser.add_argument("--times", default="0.4,0.45,0.5,0.55,0.6,0.65")
    parser.add_argument("--refine", default="", help="SF-EUOT only: chain lengths, e.g. 25,100,300,800")
    parser.add_argument("--steps", type=int, default=None, help="training iterations (default: the solver's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    refine_steps = [int(s) for s in args.refine.split(",") if s]
    if refine_steps and not args.solver.startswith("sfeuot"):
        parser.error("--refine needs an SF-EUOT solver")
    times = [float(t) for t in args.times.split(",")]

    days = select_days(load_time_course(args.data), START, END, [SCORED])
    scale = data_scale(days.values())
    days = {day: torch.as_tensor(points / scale, dtype=torch.float32) for day, points in days.items()}
    x = days[START]
    began = time.perf_counter()
    solver = SOLVERS[args.solver](EPS).fit(x, days[END], steps=args.steps, seed=args.seed, device="cpu")
    fit_seconds = time.perf_counter() - began
    y = solver.sample(x, seed=args.seed + 1).cpu()
    draws = solver.sample(x[:1000], n_per_x=16, seed=args.seed + 2).cpu()
    spread = float(draws.var(1).sum(1).mean() / 2)
    print(json.dumps({"solver": args.solver, "chain_steps": 0, "fit_seconds": fit_seconds, "spread": spread,
                      **scores(x, y, days, scale, times, args.seed + 2)}), flush=True)
    done = 0
    for steps in refine_steps:
        y, acceptance = refine(solver, x, y, steps - done, args.seed + 3 + steps)
        done = steps
        row = scores(x, y, days, scale, times, args.seed + 2)
        print(json.dumps({"solver": args.solver, "chain_steps": steps, "acceptance": acceptance, **row}), flush=True)


if __name__ == "__main__":
    main()
