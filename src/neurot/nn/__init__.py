"""Networks only: potentials ``[n, D] -> [n]``, time-dependent potentials, one-step generators."""

from neurot.nn.generator import GaussianGenerator
from neurot.nn.mlp import MLPPotential
from neurot.nn.time_mlp import TimeMLPPotential

__all__ = ["GaussianGenerator", "MLPPotential", "TimeMLPPotential"]
