r"""The share of EgNOT's plan sent to a far cluster holding 2 % of the target (issue #15: chains that cross modes).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/far_cluster.py [--eps 0.1] [--options '{"jump_every": 2}']

Source ``N(0, I)``, target :func:`neurot.data.toy.gaussian_outliers` (``N((0.5, 0), 0.25 I)`` with 2 % moved to
(8, 8)), 20000 points a side, fit seed 0; one draw for each of 10000 test inputs. The exact balanced plan sends 2 %
of its mass to the cluster. Prints one JSON row: the share of draws within 3 of the cluster's centre (%), the mean of
the other draws (about (0.5, 0)), fit and sample seconds.
"""

import argparse
import json
import time

import torch

import neurot
from neurot.data.toy import OUTLIER_CENTRE, gaussian_outliers

N_TRAIN, N_TEST, RADIUS = 20_000, 10_000, 3.0


def main() -> None:
    """Fit, sample and print the JSON row (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--options", type=json.loads, default={}, help="EgNOT options as a JSON object")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(N_TRAIN, 2, generator=generator), gaussian_outliers(N_TRAIN, generator)
    x_test = torch.randn(N_TEST, 2, generator=generator)
    solver = neurot.EgNOT(args.eps, **args.options)
    start = time.perf_counter()
    solver.fit(x, y, seed=0)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    draws = solver.sample(x_test, seed=1)
    sample_seconds = time.perf_counter() - start
    near = (draws - torch.tensor(OUTLIER_CENTRE)).norm(dim=1) < RADIUS
    print(json.dumps({"eps": args.eps, "options": args.options, "share_pct": 100 * near.float().mean().item(),
                      "inlier_mean": draws[~near].mean(0).tolist(), "fit_seconds": fit_seconds,
                      "sample_seconds": sample_seconds}))


if __name__ == "__main__":
    main()
