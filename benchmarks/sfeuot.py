"""SF-EUOT benchmark (issues #6, #16): accuracy against exact solutions and outlier robustness vs balanced EgNOT.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/sfeuot.py [--steps 1000] [--egnot-steps 1000]
[--generator gaussian|flow] [--only mixture --dims 2,16 --eps 1,10]``.
Prints four tables: balanced 2-D Gaussian plan BW2-UVP against the closed form; unbalanced Gaussian target-marginal
errors against ``UnbalancedGaussianEOT(entropy="lebesgue")``; the share of samples near 2 % far-away outliers;
cBW2-UVP on the mixture benchmark pairs (:func:`neurot.benchmarks.suites.mixture_suite`, 200 test inputs x 1000
samples, the solver's default steps). ``--generator`` picks SF-EUOT's generator family in every table.
Wall times are single-threaded CPU and noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import neurot
from neurot.benchmarks import UnbalancedGaussianEOT, bw2_uvp, gaussian_benchmark_pair
from neurot.benchmarks.suites import Grid, format_table, mixture_suite
from neurot.data.toy import OUTLIER_CENTRE, TOY_SETS

N = 20_000


def timed_fit(solver, x, y, steps):
    """Fit with seed 0; returns ``(solver, seconds)``."""
    start = time.perf_counter()
    solver.fit(x, y, steps=steps, seed=0)
    return solver, time.perf_counter() - start


def balanced(steps: int, family: str) -> None:
    """Table 1: tau = None against the closed-form balanced plan."""
    print("## balanced (tau = None), 2-D Gaussian pair: plan BW2-UVP vs closed form (floor with 20k pairs ~0.01 %)")
    print("| eps | plan BW2-UVP % | target BW2-UVP % | fit s |")
    for eps in (0.1, 1.0, 10.0):
        problem = gaussian_benchmark_pair(2, eps=eps, seed=0)
        rng = np.random.default_rng(0)
        solver, seconds = timed_fit(neurot.SFEUOT(eps=eps, generator=family), problem.sample_source(N, rng),
                                    problem.sample_target(N, rng), steps)
        x = problem.sample_source(N, np.random.default_rng(1))
        y = solver.sample(x, seed=2).numpy()
        plan = bw2_uvp(np.concatenate([x, y], 1), problem.plan_mean, problem.plan_cov)
        print(f"| {eps} | {plan:.3f} | {bw2_uvp(y, problem.target_mean, problem.target_cov):.3f} | {seconds:.0f} |")


def unbalanced(steps: int, family: str) -> None:
    """Table 2: tau > 0 against the exact unbalanced Gaussian solution."""
    print("\n## unbalanced, 2-D Gaussian pair (target shifted by (2, 1)), eps = 0.5: target marginal vs exact")
    print("| tau | psi | mean err | max cov err | plan BW2-UVP % | mass (mean weight) | weight rel err | Q's BW2-UVP % "
          "| fit s |")
    pair = gaussian_benchmark_pair(2, eps=0.5, seed=0)
    shift = np.array([2.0, 1.0])
    rng = np.random.default_rng(0)
    x_train, y_train = pair.sample_source(N, rng), pair.sample_target(N, rng) + shift
    for tau in (0.3, 1.0, 5.0):
        oracle = UnbalancedGaussianEOT(pair.source_mean, pair.source_cov, pair.target_mean + shift, pair.target_cov,
                                       0.5, None, tau, entropy="lebesgue")
        solver, seconds = timed_fit(neurot.SFEUOT(eps=0.5, tau=tau, generator=family), x_train, y_train, steps)
        x = pair.sample_source(N, np.random.default_rng(1))
        y = solver.sample(x, seed=2).numpy()
        _, mean, cov = oracle.target_marginal
        weights = solver.target_weight(y_train[:5000]).numpy()
        exact = oracle.target_density_ratio(y_train[:5000])
        plan = bw2_uvp(np.concatenate([x, y], 1), oracle.plan_mean, oracle.plan_cov)
        print(f"| {tau} | kl | {np.linalg.norm(y.mean(0) - mean):.3f} | {np.abs(np.cov(y.T) - cov).max():.3f} "
              f"| {plan:.3f} | {weights.mean():.3f} | {np.abs(weights - exact).mean() / exact.mean():.3f} "
              f"| {bw2_uvp(y_train, mean, cov):.1f} | {seconds:.0f} |")


def outliers(steps: int, egnot_steps: int, family: str, egnot: bool = True) -> None:
    """Table 3: share of samples near far-away outliers, balanced solvers vs SF-EUOT."""
    print("\n## 2-D target with 2 % outliers at (8, 8) (toy set 'gaussian_outliers'), eps = 0.1")
    print("| solver | samples within 3 of the outliers % | inlier mean | dist to exact | fit s |")
    generator = torch.Generator().manual_seed(0)
    x_train = torch.randn(N, 2, generator=generator)
    y_train = TOY_SETS["gaussian_outliers"](N, generator)
    truth = UnbalancedGaussianEOT(np.zeros(2), np.eye(2), [0.5, 0.0], 0.25 * np.eye(2), 0.1, None, 1.0,
                                  target_mass=0.98, entropy="lebesgue").target_marginal[1]
    x = torch.randn(N, 2, generator=generator)
    solvers = [("EgNOT (balanced)", neurot.EgNOT(eps=0.1), egnot_steps),
               ("EgNOT, mixture potential (balanced, exact sampling)", neurot.EgNOT(eps=0.1, potential="gmm"),
                egnot_steps)] if egnot else []
    solvers += [(f"SF-EUOT ({family}) tau=None (balanced)", neurot.SFEUOT(eps=0.1, generator=family), steps)]
    solvers += [(f"SF-EUOT ({family}) tau=1 {psi}", neurot.SFEUOT(eps=0.1, tau=1.0, psi=psi, generator=family),
                 steps) for psi in ("kl", "chi2", "softplus")]
    for name, solver, n_steps in solvers:
        solver, seconds = timed_fit(solver, x_train, y_train, n_steps)
        y = solver.sample(x, seed=1).numpy()
        near = np.linalg.norm(y - np.array(OUTLIER_CENTRE), axis=1) < 3.0
        inlier_mean = y[~near].mean(0)
        print(f"| {name} | {100 * near.mean():.3f} | ({inlier_mean[0]:.3f}, {inlier_mean[1]:.3f}) "
              f"| {np.linalg.norm(inlier_mean - truth):.3f} | {seconds:.0f} |")
    print(f"exact inlier mean for tau = 1 (KL): ({truth[0]:.3f}, {truth[1]:.3f}); raw inlier mean (0.5, 0)")


def mixture(dims: list[int], eps_values: list[float], family: str) -> None:
    """Table 4: cBW2-UVP on the mixture benchmark pairs (200 test inputs x 1000 samples) beside the exact floor."""
    grid = Grid(dims=dims, eps=eps_values, solvers=(f"sfeuot-{family}",), n_conditional=(200, 1000))
    print(f"\n## mixture benchmark pairs, SF-EUOT ({family} generator), cBW2-UVP %")
    print(format_table(mixture_suite(grid)))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="SF-EUOT training steps")
    parser.add_argument("--egnot-steps", type=int, default=1000, help="EgNOT training steps (outlier table)")
    parser.add_argument("--generator", choices=["gaussian", "flow"], default="gaussian",
                        help="SF-EUOT's generator family")
    parser.add_argument("--no-egnot", action="store_true", help="outlier table: SF-EUOT rows only")
    parser.add_argument("--dims", default="2,16", help="mixture table: comma-separated dimensions")
    parser.add_argument("--eps", default="1,10", help="mixture table: comma-separated eps values")
    parser.add_argument("--only", choices=["balanced", "unbalanced", "outliers", "mixture"], default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.only in (None, "balanced"):
        balanced(args.steps, args.generator)
    if args.only in (None, "unbalanced"):
        unbalanced(args.steps, args.generator)
    if args.only in (None, "outliers"):
        outliers(args.steps, args.egnot_steps, args.generator, egnot=not args.no_egnot)
    if args.only in (None, "mixture"):
        mixture([int(d) for d in args.dims.split(",")], [float(e) for e in args.eps.split(",")], args.generator)


if __name__ == "__main__":
    main()
