"""Speed suite: EgNOT training throughput, where a training iteration spends its time, and time to accuracy.

Rows (issue #4):

- ``throughput``: iterations per second of :class:`~neurot.solvers.EgNOT` training on the Gaussian benchmark pair,
  for the reference implementation's configuration (MLP ``D -> 512 -> 512 -> 512 -> 1`` with ReLU, batch 1024,
  100 ULA steps per iteration) and for neurot's defaults, with the share of wall time spent in the Langevin chains
  and the operators that dominate (from :mod:`torch.profiler`).
- ``time to accuracy``: one fit of 10000 iterations, scored every ``eval_every`` iterations (scoring is not
  timed); the fit time and iteration at which the plan BW2-UVP first reaches each threshold (1 %, 0.5 % and the
  paper's number).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp
from neurot.benchmarks.published import EGNOT_GAUSSIAN_PLAN
from neurot.samplers.chain import PROFILE_LABEL
from neurot.solvers import EgNOT

#: The EgNOT reference implementation's Gaussian configuration (3 x 512 ReLU MLP, 100 ULA steps), as EgNOT options.
REFERENCE_OPTIONS = {"hidden": (512, 512, 512), "activation": "relu", "batch_size": 1024,
                     "langevin_steps": 100, "sampler": "ula"}


def _pair_data(dim: int, eps: float, n: int, seed: int):
    problem = gaussian_benchmark_pair(dim, eps, seed)
    rng = np.random.default_rng(seed)
    return problem, rng, problem.sample_source(n, rng), problem.sample_target(n, rng)


def throughput(
    dim: int, eps: float, options: dict[str, Any], iterations: int = 5, warmup: int = 2,
    device: str | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Training iterations per second after ``warmup`` iterations, and a profile of ``iterations`` more.

    Returns ``it_per_s``, ``langevin_share`` (fraction of the profiled CPU time spent inside
    :func:`~neurot.samplers.run_chain`) and ``top_ops`` (the three operators with the most self CPU time, with
    their shares).
    """
    _, _, x, y = _pair_data(dim, eps, 20_000, seed)
    marks: list[float] = []
    profile = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])

    def timed(solver, step: int, metrics: dict[str, float]) -> None:
        if step in (warmup, warmup + iterations):
            marks.append(time.perf_counter())

    def profiled(solver, step: int, metrics: dict[str, float]) -> None:
        if step == warmup:
            profile.start()
        elif step == warmup + iterations:
            profile.stop()

    for callback in (timed, profiled):  # timing without the profiler's overhead, then the profile
        EgNOT(eps=eps, **options).fit(x, y, steps=warmup + iterations, seed=seed, device=device, callbacks=[callback])
    it_per_s = iterations / (marks[1] - marks[0])
    events = profile.key_averages()
    total_us = sum(event.self_cpu_time_total for event in events)
    langevin_us = sum(event.cpu_time_total for event in events if event.key == PROFILE_LABEL)
    ops = sorted((event for event in events if event.key.startswith("aten::")), key=lambda e: -e.self_cpu_time_total)
    top_ops = ", ".join(f"{e.key[6:]} {100 * e.self_cpu_time_total / total_us:.0f}%" for e in ops[:3])
    return {"it_per_s": it_per_s, "langevin_share": langevin_us / total_us, "top_ops": top_ops}


def time_to_accuracy(
    dim: int, eps: float, options: dict[str, Any] | None = None, eval_every: int = 1000, n_test: int = 10_000,
    thresholds: tuple[float, ...] = (1.0, 0.5), device: str | None = None, seed: int = 0,
) -> list[dict[str, Any]]:
    """Fit once with ``options`` and report when the plan BW2-UVP first reaches each threshold (and the paper's).

    Every ``eval_every`` iterations ``n_test`` source points get one draw each (timed separately and excluded from
    the fit time). Rows: ``threshold``, ``reached_at_step``, ``reached_after_s`` (None if never), and the final
    ``plan_bw2_uvp``.
    """
    problem, rng, x, y = _pair_data(dim, eps, 20_000, seed)
    x_test = problem.sample_source(n_test, rng)
    paper = EGNOT_GAUSSIAN_PLAN.get((float(eps), dim))
    targets = sorted({*thresholds, *([paper] if paper else [])}, reverse=True)
    reached: dict[float, tuple[int, float]] = {}
    scores: list[float] = []
    clock = {"start": time.perf_counter(), "paused": 0.0}

    def evaluate(solver, step: int, metrics: dict[str, float]) -> None:
        if step % eval_every:
            return
        paused = time.perf_counter()
        samples = solver.sample(x_test.astype(np.float32), seed=seed + 1).cpu().numpy().astype(float)
        score = bw2_uvp(np.hstack([x_test, samples]), problem.plan_mean, problem.plan_cov)
        scores.append(score)
        elapsed = paused - clock["start"] - clock["paused"]
        for threshold in targets:
            if score <= threshold and threshold not in reached:
                reached[threshold] = (step, elapsed)
        clock["paused"] += time.perf_counter() - paused

    EgNOT(eps=eps, **(options or {})).fit(x, y, seed=seed, device=device, callbacks=[evaluate])
    return [{
        "threshold": threshold, "paper": threshold == paper,
        "reached_at_step": reached.get(threshold, (None, None))[0],
        "reached_after_s": reached.get(threshold, (None, None))[1],
        "plan_bw2_uvp": scores[-1] if scores else None,
    } for threshold in targets]


def speed_suite(grid, device: str | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Throughput rows for every D of ``grid`` (reference and default configurations), then time to accuracy."""
    rows = []
    eps = grid.eps[0]
    for dim in grid.dims:
        for case, options in (("reference (3x512 ReLU, K=100 ULA)", REFERENCE_OPTIONS), ("neurot default", {})):
            log(f"speed D={dim} {case}: timing")
            rows.append({"suite": "speed", "case": case, "dim": dim, "eps": eps,
                         **throughput(dim, eps, options, device=device, seed=grid.seed)})
    dim = max(grid.dims)
    log(f"speed D={dim} eps={eps:g}: time to accuracy")
    for row in time_to_accuracy(dim, eps, {"steps": 10_000}, device=device, seed=grid.seed):
        label = "paper's number" if row.pop("paper") else "threshold"
        rows.append({"suite": "speed", "case": f"time to plan BW2-UVP <= {row['threshold']:g} % ({label})",
                     "dim": dim, "eps": eps, **row})
    return rows
