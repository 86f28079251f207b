"""OT flow against ground truth: Gaussian maps (L2-UVP, inversion, log density ratio) and moons -> checkerboard.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/otflow.py [gaussian|moons|all] [--dims 2 8 16] [--quick]
[--figure moons.png]`` (``--figure``: the moons flow's trajectories, needs matplotlib).
Times are wall-clock on whatever machine runs it (single-threaded torch).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from neurot import OTFlow
from neurot.benchmarks import (
    brenier_map,
    discrete_ot_cost,
    energy_distance,
    gaussian_log_density_ratio,
    gaussian_ot_cost,
    l2_uvp,
    random_gaussian,
)
from neurot.data import toy_sampler


def gaussian(dim: int, quick: bool) -> None:
    """Map L2-UVP vs Brenier, inversion error, log-ratio error and kinetic cost for a Gaussian pair in ``dim``.

    The log-ratio error is the relative RMSE ``sqrt(mean (est - exact)^2) / sqrt(mean exact^2)`` over 2000 points
    from P and 2000 from Q (the ratio is used on both).
    """
    rng = np.random.default_rng(0)
    a, cov_a = random_gaussian(dim, rng)
    _, cov_b = random_gaussian(dim, rng)
    b = np.full(dim, 0.5)
    x, y = rng.multivariate_normal(a, cov_a, 50_000), rng.multivariate_normal(b, cov_b, 50_000)
    flow = OTFlow()  # the default schedule: 10000 warm-start, 300 refinement and 3000 density-ratio steps
    start = time.perf_counter()
    flow.fit(x, y, seed=0, steps=flow.config.steps // 5 if quick else None)
    seconds = time.perf_counter() - start
    test = rng.multivariate_normal(a, cov_a, 5000)
    mapped = flow.transport(test)
    uvp = l2_uvp(mapped, brenier_map(test, a, cov_a, b, cov_b), np.trace(cov_b))
    points = torch.as_tensor(test, dtype=torch.float32)
    inversion = (flow.inverse(mapped) - points).norm(dim=1).mean().item()
    mixed = np.concatenate([test[:2000], rng.multivariate_normal(b, cov_b, 2000)])
    exact = gaussian_log_density_ratio(mixed, a, cov_a, b, cov_b)
    error = flow.log_density_ratio(mixed).double().numpy() - exact
    ratio = np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(exact**2))
    kinetic, optimum = flow.kinetic_energy(test), gaussian_ot_cost(a, cov_a, b, cov_b)
    print(f"gaussian D={dim}: fit {seconds:.0f} s, L2-UVP {uvp:.3f} %, inversion {inversion:.2e}, "
          f"log-ratio rel RMSE {100 * ratio:.1f} %, kinetic {kinetic:.4f} vs 1/2 W2^2 {optimum:.4f}")


def on_board(points: torch.Tensor) -> float:
    """Share of ``points [n, 2]`` on the dark squares of the checkerboard (the support of ``Q``; 1 for ``Q``)."""
    cells = torch.floor(points.double())
    return ((points.abs() <= 2).all(1) & ((cells[:, 0] + cells[:, 1]) % 2 == 0)).double().mean().item()


def plot_trajectories(flow: OTFlow, x: torch.Tensor, target: torch.Tensor, path: str) -> None:
    """Write a PNG of the flow's paths from ``x [n, 2]`` (grey), their ends (black) and the target (orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = flow.trajectory(x, n_steps=20).numpy()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.2, color="tab:orange", label="target Q")
    ax.plot(paths[:, :, 0], paths[:, :, 1], color="0.5", lw=0.5, alpha=0.6)
    ax.scatter(paths[0, :, 0], paths[0, :, 1], s=4, color="tab:blue", label="x ~ P", zorder=3)
    ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=4, color="black", label="T(x)", zorder=3)
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=3, markerscale=3)
    ax.set_title("OT flow: moons -> checkerboard")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def moons(quick: bool, figure: str | None = None) -> None:
    """Kinetic cost of the flow moons -> checkerboard vs exact discrete OT, with the pushforward's match to Q.

    The kinetic cost is a mean over 20 000 fresh source points (standard error about 0.5 %). The optimum is the
    exact OT cost between independent 4000-point samples of P and Q, averaged over 5 pairs (its mean is at least
    the population optimum, so the comparison errs against the flow). The kinetic cost is first-order sensitive
    to the map while distances between T#P and Q are second-order, so the pushforward is also checked by moments:
    ``E |T(x)|^2`` against ``E |y|^2 = 8/3`` and the share of T(x) on the checkerboard's dark squares.
    """
    source, target = toy_sampler("moons", 0)(20_000), toy_sampler("checkerboard", 1)(20_000)
    scale = 0.2 if quick else 1.0
    flow = OTFlow(warmup_steps=int(20_000 * scale), refine_steps=int(300 * scale), ratio_steps=0)
    test = toy_sampler("moons", 2)(20_000)
    checkpoints = {}

    def record(solver, step, metrics):
        if step == solver.config.warmup_steps:  # end of the warm start (no steps override below)
            checkpoints["warm start"] = solver.kinetic_energy(test)

    start = time.perf_counter()
    flow.fit(source, target, seed=0, callbacks=[record])
    seconds = time.perf_counter() - start
    checkpoints["refined"] = flow.kinetic_energy(test)
    optima = [discrete_ot_cost(toy_sampler("moons", 10 + k)(4000), toy_sampler("checkerboard", 20 + k)(4000))
              for k in range(5)]
    optimum = float(np.mean(optima))
    pushed, reference = flow.transport(test), toy_sampler("checkerboard", 4)(20_000)
    parts = ", ".join(f"{k} {v:.4f} ({100 * (v / optimum - 1):+.1f} %)" for k, v in checkpoints.items())
    print(f"moons -> checkerboard: fit {seconds:.0f} s; kinetic cost {parts}; discrete OT optimum {optimum:.4f} "
          f"(sd {np.std(optima, ddof=1):.4f} over 5 pairs of 4000 points)")
    w2 = discrete_ot_cost(pushed[:4000], reference[:4000])
    floor = discrete_ot_cost(reference[4000:8000], reference[:4000])
    print(f"  T#P vs Q: E|T(x)|^2 {pushed.square().sum(1).mean():.3f} (Q: 8/3 = {8 / 3:.3f}); on the dark squares "
          f"{on_board(pushed):.3f} (Q: 1); 1/2 W2^2 {w2:.4f} and energy distance "
          f"{energy_distance(pushed[:4000], reference[:4000]):.4f} on 4000 points (two Q samples: {floor:.4f}, "
          f"{energy_distance(reference[4000:8000], reference[:4000]):.4f})")
    if figure:
        plot_trajectories(flow, test[:300], reference[:5000], figure)


def main() -> None:
    """Parse the command line and run the suites."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suite", nargs="?", default="all", choices=["gaussian", "moons", "all"])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--figure", help="PNG path for the moons flow's trajectories")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.suite in ("gaussian", "all"):
        for dim in args.dims:
            gaussian(dim, args.quick)
    if args.suite in ("moons", "all"):
        moons(args.quick, args.figure)


if __name__ == "__main__":
    main()
