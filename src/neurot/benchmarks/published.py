"""Published numbers that neurot's benchmarks are compared with, as the papers report them."""

#: EgNOT paper, Table 1: plan BW2-UVP (%) on Gaussians, keyed by (eps, D). Read from a secondary summary.
EGNOT_GAUSSIAN_PLAN = {
    (0.1, 2): 0.01, (0.1, 16): 0.2, (0.1, 64): 0.56, (0.1, 128): 0.97,
    (1.0, 2): 0.03, (1.0, 16): 0.1, (1.0, 64): 0.26, (1.0, 128): 0.31,
    (10.0, 2): 0.11, (10.0, 16): 0.09, (10.0, 64): 0.18, (10.0, 128): 0.29,
}

#: Gushchin et al. mixture benchmark, cBW2-UVP (%): LightSB and the best solver before it, keyed by (eps, D).
MIXTURE_LIGHTSB = {
    (0.1, 2): 0.03, (0.1, 16): 0.08, (0.1, 64): 0.28, (0.1, 128): 0.60,
    (1.0, 2): 0.05, (1.0, 16): 0.09, (1.0, 64): 0.24, (1.0, 128): 0.62,
    (10.0, 2): 0.07, (10.0, 16): 0.11, (10.0, 64): 0.21, (10.0, 128): 0.37,
}
MIXTURE_BEST_BEFORE_LIGHTSB = {
    (0.1, 2): 1.94, (0.1, 16): 13.67, (0.1, 64): 11.74, (0.1, 128): 11.4,
    (1.0, 2): 1.04, (1.0, 16): 9.08, (1.0, 64): 18.05, (1.0, 128): 15.23,
    (10.0, 2): 1.40, (10.0, 16): 1.27, (10.0, 64): 2.36, (10.0, 128): 1.31,
}

#: LightSB paper (Korotin et al., ICLR 2024), Table 3: energy distance ``E|X-Y| - E|X-X'|/2 - E|Y-Y'|/2`` at day 3 of
#: the CITE-seq time course (days 2 -> 4, eps = 0.1 in the protocol's units), keyed by (D, start, end, scored day).
SINGLE_CELL = {
    (50, 2.0, 4.0, 3.0): {"lightsb": 2.31, "sinkhorn": 2.34, "egnot": 2.39, "enot": 2.44},
    (100, 2.0, 4.0, 3.0): {"lightsb": 2.16, "sinkhorn": 2.24, "egnot": 2.32, "enot": 2.24},
    (1000, 2.0, 4.0, 3.0): {"lightsb": 1.27, "sinkhorn": 1.86, "egnot": 1.46, "enot": 1.32},
}
