"""Timed fits of every solver on the GPU (and briefly on the CPU for comparison): a Markdown table of it/s.

Run by ``benchmarks/gpu_check.sh``; alone: ``PYTHONPATH=src python benchmarks/gpu_speed.py [--steps 2000]
[--cpu-steps 50] [--out DIR]``. Cases: EgNOT (MLP potential, defaults) on the D = 16 and D = 64 Gaussian benchmark
pairs, SF-EUOT and OT flow at D = 16. Iterations per second are timed after ``warmup`` iterations (every training
step reads its metrics back to the host, so a step's end is a synchronisation point). On CUDA each case is then
profiled for ``PROFILED`` iterations of a second, short fit: kernels launched and GPU-busy milliseconds per
iteration (busy / wall near 1: arithmetic-bound; near 0: bound by launches and host work), host synchronisations
per iteration, and the operators with the most GPU time. With ``--out`` the table and the rows go to
``gpu_speed.md`` and ``gpu_speed.json`` there.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import neurot
from neurot.benchmarks import gaussian_benchmark_pair

CASES = {
    "EgNOT D=16": (16, lambda: neurot.EgNOT(eps=1.0)),
    "EgNOT D=64": (64, lambda: neurot.EgNOT(eps=1.0)),
    "SF-EUOT D=16": (16, lambda: neurot.SFEUOT(eps=1.0)),
    "OT flow D=16": (16, lambda: neurot.OTFlow()),
}


def timed_fit(make, dim: int, steps: int, device: str, warmup: int = 10) -> dict:
    """Fit ``make()`` ``steps`` times on the D = ``dim`` Gaussian pair; time the steps after ``warmup``."""
    problem = gaussian_benchmark_pair(dim, 1.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = problem.sample_source(20_000, rng), problem.sample_target(20_000, rng)
    marks = {}

    def clock(solver, step, metrics):
        if step in (warmup, steps):
            marks[step] = time.perf_counter()

    start = time.perf_counter()
    make().fit(x, y, steps=steps, seed=0, device=device, callbacks=[clock])
    total = time.perf_counter() - start
    return {"steps": steps, "fit_s": total, "it_per_s": (steps - warmup) / (marks[steps] - marks[warmup])}


PROFILED = 10
#: CUDA runtime calls that make the host wait for the GPU.
SYNCS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy")


def profiled_fit(make, dim: int, device: str, warmup: int = 10) -> dict:
    """Kernels, GPU-busy time, host synchronisations and top GPU operators per iteration, over ``PROFILED`` steps."""
    problem = gaussian_benchmark_pair(dim, 1.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = problem.sample_source(20_000, rng), problem.sample_target(20_000, rng)
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    profile, marks = torch.profiler.profile(activities=activities), {}

    def window(solver, step, metrics):
        if step == warmup:
            profile.start()
            marks["start"] = time.perf_counter()
        elif step == warmup + PROFILED:
            torch.cuda.synchronize(device)
            marks["end"] = time.perf_counter()
            profile.stop()

    make().fit(x, y, steps=warmup + PROFILED, seed=0, device=device, callbacks=[window])
    events = profile.key_averages()
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    busy_us = sum(e.self_device_time_total for e in kernels)
    ops = sorted((e for e in events if e.key.startswith("aten::")), key=lambda e: -e.self_device_time_total)
    return {
        "kernels_per_it": sum(e.count for e in kernels) / PROFILED,
        "gpu_busy_ms_per_it": busy_us / 1000 / PROFILED,
        "wall_ms_per_it": 1000 * (marks["end"] - marks["start"]) / PROFILED,
        "syncs_per_it": sum(e.count for e in events if e.key.startswith(SYNCS)) / PROFILED,
        "top_gpu_ops": ", ".join(f"{e.key[6:]} {e.self_device_time_total / max(busy_us, 1):.0%}" for e in ops[:3]),
    }


def main() -> None:
    """Time every case on CUDA and on the CPU; print the table and write it under ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="iterations of each GPU fit")
    parser.add_argument("--cpu-steps", type=int, default=50, help="iterations of each CPU fit (0: none)")
    parser.add_argument("--out", help="directory for gpu_speed.md and gpu_speed.json")
    args = parser.parse_args()
    devices = [("cuda", args.steps)] + ([("cpu", args.cpu_steps)] if args.cpu_steps > 10 else [])
    rows = []
    for case, (dim, make) in CASES.items():
        for device, steps in devices:
            row = {"case": case, "device": device, **timed_fit(make, dim, steps, device)}
            if device == "cuda":
                row.update(profiled_fit(make, dim, device))
            print(f"{case} on {device}: {row['it_per_s']:.1f} it/s", flush=True)
            rows.append(row)
    cpu = {row["case"]: row["it_per_s"] for row in rows if row["device"] == "cpu"}
    lines = ["| case | device | steps | fit s | it/s | GPU / CPU | kernels / it | GPU busy ms / it | wall ms / it "
             "| syncs / it | top GPU operators |", "|" + " --- |" * 11]
    for row in rows:
        ratio = f"{row['it_per_s'] / cpu[row['case']]:.1f}x" if row["device"] == "cuda" and row["case"] in cpu else ""
        profile = (f"{row['kernels_per_it']:.0f} | {row['gpu_busy_ms_per_it']:.2f} | {row['wall_ms_per_it']:.1f} | "
                   f"{row['syncs_per_it']:.1f} | {row['top_gpu_ops']}") if "kernels_per_it" in row else " | | | |"
        lines.append(f"| {row['case']} | {row['device']} | {row['steps']} | {row['fit_s']:.1f} | "
                     f"{row['it_per_s']:.1f} | {ratio} | {profile} |")
    table = "\n".join(lines)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"\n## timed fits ({gpu}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads)\n\n{table}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_speed.md").write_text(table + "\n")
        record = {"gpu": gpu, "torch": torch.__version__, "machine": platform.platform(),
                  "threads": torch.get_num_threads(), "rows": rows}
        (out / "gpu_speed.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
