"""The Gaussian suite's large cells (D = 64 and 128, eps 0.1 / 1 / 10) on a GPU, one process per cell, in parallel.

Run by ``benchmarks/gpu_check.sh`` after the check; alone: ``PYTHONPATH=src python benchmarks/gpu_grid.py
[--dims 64,128] [--eps 0.1,1,10] [--solver egnot] [--device cuda] [--limit 600] [--out DIR]``. Each cell is
``neurot bench gaussian``'s full protocol (20k training samples, 100k test inputs) for one (D, eps), in its own
process, so that the GPU interleaves the cells' small kernels. A cell that finishes prints its row at once (and
appends it to ``gpu_grid.jsonl`` under ``--out``); cells still running after ``--limit`` seconds are stopped and
listed. The rows that finished end as a Markdown table (``gpu_grid.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_cell(dim: int, eps: float, solver: str, device: str) -> dict:
    """One cell of the Gaussian suite: its row."""
    from neurot.benchmarks.suites import SUITES, gaussian_suite

    grid = dataclasses.replace(SUITES["gaussian"].full, dims=(dim,), eps=(eps,), solvers=(solver,))
    (row,) = gaussian_suite(grid, device=device)
    return row


def main() -> None:
    """Launch every cell of ``--dims`` x ``--eps``, print rows as they finish, and the table at the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="64,128")
    parser.add_argument("--eps", default="0.1,1,10")
    parser.add_argument("--solver", default="egnot")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds before unfinished cells are stopped")
    parser.add_argument("--out", help="directory for gpu_grid.jsonl and gpu_grid.md")
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # "D,EPS": run one cell in this process
    args = parser.parse_args()
    if args.cell:
        dim, eps = args.cell.split(",")
        print(json.dumps(run_cell(int(dim), float(eps), args.solver, args.device)), flush=True)
        return

    from neurot.benchmarks.suites import format_table

    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cells = {(int(d), float(e)): subprocess.Popen(
        [sys.executable, __file__, "--cell", f"{d},{e}", "--solver", args.solver, "--device", args.device],
        stdout=subprocess.PIPE, text=True, env=env)
        for d in args.dims.split(",") for e in args.eps.split(",")}
    start, rows = time.perf_counter(), []
    while cells and time.perf_counter() - start < args.limit:
        for cell, process in list(cells.items()):
            if process.poll() is None:
                continue
            del cells[cell]
            lines = process.stdout.read().strip().splitlines()
            if process.returncode != 0 or not lines:
                print(f"cell D={cell[0]} eps={cell[1]:g} failed with exit status {process.returncode}", flush=True)
                continue
            row = json.loads(lines[-1])
            rows.append(row)
            print(f"D={row['dim']} eps={row['eps']:g}: plan BW2-UVP {row['plan_bw2_uvp']:.3f} % (paper "
                  f"{row['paper_egnot_plan_bw2_uvp']}), cBW2-UVP {row['cbw2_uvp']:.3f} %, fit "
                  f"{row['fit_seconds']:.0f} s, after {time.perf_counter() - start:.0f} s", flush=True)
            if out:
                with open(out / "gpu_grid.jsonl", "a") as file:
                    file.write(json.dumps(row) + "\n")
        time.sleep(1.0)
    for (dim, eps), process in cells.items():
        process.kill()
        print(f"cell D={dim} eps={eps:g} stopped unfinished after {args.limit:.0f} s", flush=True)
    table = format_table(sorted(rows, key=lambda row: (row["dim"], row["eps"])))
    print(f"\n## Gaussian grid on {args.device}, {args.solver}, cells in parallel\n\n{table}")
    if out:
        (out / "gpu_grid.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
