"""Exact ground truth and metrics (importable without matplotlib or POT)."""

from neurot.benchmarks.dynamic import (
    GaussianMIProblem,
    discrete_ot_cost,
    gaussian_log_density_ratio,
    gaussian_mutual_information,
    gaussian_ot_cost,
    l2_uvp,
)
from neurot.benchmarks.gaussian import (
    GaussianEOT,
    brenier_map,
    brenier_map_matrix,
    displacement_interpolation,
    gaussian_benchmark_pair,
    random_gaussian,
)
from neurot.benchmarks.metrics import bw2_squared, bw2_uvp, cbw2_uvp, energy_distance, half_energy_distance
from neurot.benchmarks.unbalanced import UnbalancedGaussianEOT

__all__ = [
    "GaussianMIProblem",
    "GaussianEOT",
    "UnbalancedGaussianEOT",
    "brenier_map",
    "brenier_map_matrix",
    "bw2_squared",
    "bw2_uvp",
    "cbw2_uvp",
    "discrete_ot_cost",
    "displacement_interpolation",
    "energy_distance",
    "gaussian_benchmark_pair",
    "gaussian_log_density_ratio",
    "gaussian_mutual_information",
    "gaussian_ot_cost",
    "half_energy_distance",
    "l2_uvp",
    "random_gaussian",
]
