"""OT flow's training schedules on the dynamic suite's Gaussian pairs (issue #18).

Warm start alone, a longer warm start in the time of the refinement, the paper's refinement, and the reflow (the
default).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/otflow_schedules.py --dims 16,32,64 [--only reflow]

Prints one JSON row per (D, schedule): map L2-UVP % against the Brenier map, the flow's kinetic energy and its end
map's cost ``E 1/2 |T(x) - x|^2`` against ``1/2 W2^2``, fit wall and CPU seconds. No density-ratio phase.
"""

import argparse
import json

from neurot.benchmarks.dynamic_suite import DynamicGrid, gaussian_row

#: Schedules by name: OT flow options (the warm start is the default 10000 steps in each).
SCHEDULES = {
    "warm start": {"reflow_steps": 0},
    "warm start, 17260 steps": {"warmup_steps": 17260, "reflow_steps": 0},  # the CPU time of "refinement"
    "refinement (300 at 2e-6, the former default)": {"reflow_steps": 0, "refine_steps": 300},
    "refinement (1000 at 2e-5)": {"reflow_steps": 0, "refine_steps": 1000, "refine_lr": 2e-5},
    "refinement (1000 at 1e-4)": {"reflow_steps": 0, "refine_steps": 1000, "refine_lr": 1e-4},
    "reflow (default)": {},
}
KEYS = ("l2_uvp", "kinetic", "map_cost", "ot_cost", "fit_seconds", "fit_cpu_seconds")


def main() -> None:
    """Fit every schedule at every D of ``--dims`` and print its row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", default="16,32,64")
    parser.add_argument("--only", help="schedules whose name contains this text")
    args = parser.parse_args()
    for dim in (int(d) for d in args.dims.split(",")):
        for name, options in SCHEDULES.items():
            if args.only and args.only not in name:
                continue
            grid = DynamicGrid(dims=(dim,), cases=("gaussian",), flow_options={**options, "ratio_steps": 0})
            row = gaussian_row(grid, dim)
            print(json.dumps({"dim": dim, "schedule": name, **{k: row[k] for k in KEYS}}), flush=True)


if __name__ == "__main__":
    main()
