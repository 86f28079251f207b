"""Speed suite: EgNOT training speed and memory, its profile, time to accuracy, and sampling in bounded memory.

Rows (issues #4 and #15):

- ``throughput``: iterations per second of :class:`~neurot.solvers.EgNOT` training on the Gaussian benchmark pair,
  for the reference implementation's configuration (MLP ``D -> 512 -> 512 -> 512 -> 1`` with ReLU, batch 1024,
  100 ULA steps per iteration) and for neurot's defaults, with the fit's peak memory
  (:func:`measure_in_fresh_process`), the share of wall time spent in the Langevin chains and the operators that
  dominate (from :mod:`torch.profiler`).
- ``sampling``: :meth:`EgNOT.sample <neurot.solvers.EgNOT.sample>` drawing for :data:`SAMPLING_CHAINS` source
  points at each of :data:`SAMPLING_CHUNKS`: samples per second and peak memory, beside the size of the draws.
- ``time to accuracy``: one fit of 10000 iterations, scored every ``eval_every`` iterations (scoring is not
  timed); the fit time and iteration at which the plan BW2-UVP first reaches each threshold (1 %, 0.5 % and the
  paper's number).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurot._validation import check_device
from neurot.benchmarks.gaussian import gaussian_benchmark_pair
from neurot.benchmarks.metrics import bw2_uvp
from neurot.benchmarks.published import EGNOT_GAUSSIAN_PLAN
from neurot.samplers.chain import PROFILE_LABEL
from neurot.solvers import EgNOT

#: The EgNOT reference implementation's Gaussian configuration (3 x 512 ReLU MLP, 100 ULA steps), as EgNOT options.
REFERENCE_OPTIONS = {"hidden": (512, 512, 512), "activation": "relu", "batch_size": 1024,
                     "langevin_steps": 100, "sampler": "ula"}

#: The sampling rows' model: a small MLP potential (fitted briefly: the chains' memory and speed are the subject).
SAMPLING_OPTIONS = {"hidden": (64, 64), "batch_size": 256}

#: The sampling rows: chains (one per source point), kernel steps per chain, and chunk sizes (chains run at once):
#: :meth:`EgNOT.sample <neurot.solvers.EgNOT.sample>`'s default chunk and an eighth of it.
SAMPLING_CHAINS, SAMPLING_STEPS, SAMPLING_CHUNKS = 1_000_000, 10, (65_536, 8_192)

_MIB = 2**20
_PROC = Path("/proc/self")
_CHILD = "import sys; from neurot.benchmarks.speed import _child; _child(sys.argv[1])"


def _pair_data(dim: int, eps: float, n: int, seed: int):
    problem = gaussian_benchmark_pair(dim, eps, seed)
    rng = np.random.default_rng(seed)
    return problem, rng, problem.sample_source(n, rng), problem.sample_target(n, rng)


def measure_in_fresh_process(prepare: Callable[..., Callable[[], Any]], device: Any, **kwargs: Any) -> dict[str, Any]:
    """Time and peak memory of one call, made in a fresh Python process with this one's ``sys.path`` and torch threads.

    There ``prepare(device=device, **kwargs)`` (a function of this module, named in :data:`PREPARERS`; its
    arguments and the call's value travel as JSON) builds what the call needs (data, a fitted model) and returns it
    as a function of no arguments; only that call is measured. Returns ``value`` (what the call returned),
    ``seconds`` (its wall time), ``peak_mib`` and ``added_mib`` (MiB):

    - on CUDA, ``torch.cuda.max_memory_allocated`` during the call (the peak of tensor memory on the device, not
      what the caching allocator reserves), and that peak less the tensor memory allocated when the call began;
    - elsewhere, the peak resident set size of the whole process during the call (``VmHWM`` of
      ``/proc/self/status``, reset to the current size through ``/proc/self/clear_refs`` just before the call):
      the interpreter, torch's libraries, the data and the call together; and that peak less the resident size when
      the call began, the call's own increment. A fresh process keeps memory that earlier work freed but the
      allocator kept from hiding the increment. (``getrusage``'s ``ru_maxrss`` would not do: a child process
      inherits its parent's peak through exec.) Without ``/proc`` (not Linux) both are None.

    The process is a new interpreter (``python -c``), not a ``multiprocessing`` child, so that the caller's main
    script is not imported again and needs no ``if __name__ == "__main__"`` guard.
    """
    if PREPARERS.get(prepare.__name__) is not prepare:
        raise ValueError(f"measure_in_fresh_process runs the functions of {sorted(PREPARERS)}, not {prepare!r}")
    device = None if device is None else str(device)
    job = json.dumps({"prepare": prepare.__name__, "device": device, "threads": torch.get_num_threads(),
                      "kwargs": kwargs})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        subprocess.run([sys.executable, "-c", _CHILD, str(result)], input=job.encode(), env=env, check=True)
        return json.loads(result.read_text())


def _child(result: str) -> None:
    """The fresh process of :func:`measure_in_fresh_process`: the job from stdin, its result to the file ``result``."""
    job = json.load(sys.stdin)
    torch.set_num_threads(job["threads"])
    call = PREPARERS[job["prepare"]](device=job["device"], **job["kwargs"])
    device = check_device("device", job["device"])
    metered = device.type == "cuda" or _PROC.exists()
    before = _reset_peak(device) if metered else None
    start = time.perf_counter()
    value = call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = _peak(device) if metered else None
    Path(result).write_text(json.dumps({"value": value, "seconds": seconds, "peak_mib": peak,
                                        "added_mib": None if peak is None else peak - before}))


def _reset_peak(device: torch.device) -> float:
    """Reset the peak memory counter (CUDA tensors, else this process's resident set) and return the memory now, MiB."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / _MIB
    (_PROC / "clear_refs").write_text("5")  # 5: reset the peak resident set size to the current one
    return _status_mib("VmRSS")


def _peak(device: torch.device) -> float:
    """The peak since :func:`_reset_peak`, MiB."""
    return torch.cuda.max_memory_allocated(device) / _MIB if device.type == "cuda" else _status_mib("VmHWM")


def _status_mib(field: str) -> float:
    """A memory field of ``/proc/self/status`` (in kB: ``VmRSS``, the resident set size, ``VmHWM``, its peak), MiB."""
    status = dict(line.split(":", 1) for line in (_PROC / "status").read_text().splitlines())
    return int(status[field].split()[0]) / 1024


def throughput(
    dim: int, eps: float, options: dict[str, Any], iterations: int = 5, warmup: int = 2,
    device: str | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Training iterations per second after ``warmup`` iterations and the fit's memory, and a profile of ``iterations``.

    The timed fit (``warmup + iterations`` iterations) runs in a fresh process, which also measures its memory
    (:func:`measure_in_fresh_process`); a second fit here is profiled. Returns ``it_per_s``, ``peak_mib`` and
    ``added_mib`` (the timed fit's), ``langevin_share`` (fraction of the profiled CPU time spent inside
    :func:`~neurot.samplers.run_chain`) and ``top_ops`` (the three operators with the most self CPU time, with
    their shares).
    """
    timed = measure_in_fresh_process(_timed_fit, device, dim=dim, eps=eps, options=options, iterations=iterations,
                                     warmup=warmup, seed=seed)
    _, _, x, y = _pair_data(dim, eps, 20_000, seed)
    profile = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])

    def profiled(solver, step: int, metrics: dict[str, float]) -> None:
        if step == warmup:
            profile.start()
        elif step == warmup + iterations:
            profile.stop()

    EgNOT(eps=eps, **options).fit(x, y, steps=warmup + iterations, seed=seed, device=device, callbacks=[profiled])
    events = profile.key_averages()
    total_us = sum(event.self_cpu_time_total for event in events)
    langevin_us = sum(event.cpu_time_total for event in events if event.key == PROFILE_LABEL)
    ops = sorted((event for event in events if event.key.startswith("aten::")), key=lambda e: -e.self_cpu_time_total)
    top_ops = ", ".join(f"{e.key[6:]} {100 * e.self_cpu_time_total / total_us:.0f}%" for e in ops[:3])
    return {"it_per_s": timed["value"], "peak_mib": timed["peak_mib"], "added_mib": timed["added_mib"],
            "langevin_share": langevin_us / total_us, "top_ops": top_ops}


def _timed_fit(dim: int, eps: float, options: dict[str, Any], iterations: int, warmup: int, device: Any,
               seed: int) -> Callable[[], float]:
    """A fit on the Gaussian pair that returns its iterations per second after ``warmup`` (data built here).

    A one-iteration fit of a one-unit network comes first, so that the modules a fit imports on first use (the
    optimizer's step imports ``torch._dynamo``) are loaded before the measured fit.
    """
    _, _, x, y = _pair_data(dim, eps, 20_000, seed)
    EgNOT(eps=eps, **{**options, "hidden": (1,), "batch_size": 2, "buffer_size": 2}).fit(x, y, steps=1, device=device)
    marks: list[float] = []

    def timed(solver, step: int, metrics: dict[str, float]) -> None:
        if step in (warmup, warmup + iterations):
            marks.append(time.perf_counter())

    def fit() -> float:
        EgNOT(eps=eps, **options).fit(x, y, steps=warmup + iterations, seed=seed, device=device, callbacks=[timed])
        return iterations / (marks[1] - marks[0])

    return fit


def sampling(
    dim: int, eps: float, n_chains: int, steps: int, chunk_size: int, fit_steps: int = 20,
    options: dict[str, Any] | None = None, device: str | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Speed and memory of one :meth:`EgNOT.sample <neurot.solvers.EgNOT.sample>` call for ``n_chains`` sources.

    In a fresh process (:func:`measure_in_fresh_process`) an EgNOT with ``options`` (None: :data:`SAMPLING_OPTIONS`)
    is fitted for ``fit_steps`` iterations on the Gaussian pair and ``n_chains`` source points are drawn (float32,
    on the solver's device, before the measured call: the caller's input is not counted); then one draw for each is
    measured: ``steps`` kernel steps per chain, ``chunk_size`` chains at once.
    Returns ``samples_per_s``, ``peak_mib`` and ``added_mib`` (MiB, see :func:`measure_in_fresh_process`) and
    ``output_mib``, the size of the draws themselves (``n_chains x dim`` float32).
    """
    measured = measure_in_fresh_process(_sampling_call, device, dim=dim, eps=eps, chunk_size=chunk_size,
                                        n_chains=n_chains, steps=steps, fit_steps=fit_steps,
                                        options=SAMPLING_OPTIONS if options is None else options, seed=seed)
    return {"samples_per_s": n_chains / measured["seconds"], "peak_mib": measured["peak_mib"],
            "added_mib": measured["added_mib"], "output_mib": n_chains * dim * 4 / _MIB}


def _sampling_call(dim: int, eps: float, chunk_size: int, n_chains: int, steps: int, fit_steps: int,
                   options: dict[str, Any], device: Any, seed: int) -> Callable[[], None]:
    """A fitted EgNOT's draw for ``n_chains`` sources (fit and sources made here; the draw is not returned)."""
    problem, rng, x, y = _pair_data(dim, eps, 20_000, seed)
    solver = EgNOT(eps=eps, **options).fit(x, y, steps=fit_steps, seed=seed, device=device)
    sources = torch.as_tensor(problem.sample_source(n_chains, rng), dtype=torch.float32, device=solver.device)

    def draw() -> None:
        solver.sample(sources, seed=seed, steps=steps, chunk_size=chunk_size)

    return draw


#: The functions :func:`measure_in_fresh_process` may run, by name.
PREPARERS: dict[str, Callable[..., Callable[[], Any]]] = {"_timed_fit": _timed_fit, "_sampling_call": _sampling_call}


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
    """Throughput rows for every D of ``grid``, sampling rows at the smallest D, then time to accuracy at the largest.

    Throughput: the reference and default configurations; sampling: :data:`SAMPLING_CHUNKS`.
    """
    rows = []
    eps = grid.eps[0]
    for dim in grid.dims:
        for case, options in (("reference (3x512 ReLU, K=100 ULA)", REFERENCE_OPTIONS), ("neurot default", {})):
            log(f"speed D={dim} {case}: timing")
            rows.append({"suite": "speed", "case": case, "dim": dim, "eps": eps,
                         **throughput(dim, eps, options, device=device, seed=grid.seed)})
    dim = min(grid.dims)
    network = "x".join(map(str, SAMPLING_OPTIONS["hidden"]))
    for chunk_size in SAMPLING_CHUNKS:
        case = f"sample {SAMPLING_CHAINS:,} chains x {SAMPLING_STEPS} steps, chunk {chunk_size:,} ({network} MLP)"
        log(f"speed D={dim} {case}")
        rows.append({"suite": "speed", "case": case, "dim": dim, "eps": eps,
                     **sampling(dim, eps, SAMPLING_CHAINS, SAMPLING_STEPS, chunk_size, device=device, seed=grid.seed)})
    dim = max(grid.dims)
    log(f"speed D={dim} eps={eps:g}: time to accuracy")
    for row in time_to_accuracy(dim, eps, {"steps": 10_000}, device=device, seed=grid.seed):
        label = "paper's number" if row.pop("paper") else "threshold"
        rows.append({"suite": "speed", "case": f"time to plan BW2-UVP <= {row['threshold']:g} % ({label})",
                     "dim": dim, "eps": eps, **row})
    return rows
