"""Networks only: potentials ``[n, D] -> [n]``."""

from neurot.nn.gmm import GaussianMixturePotential
from neurot.nn.mlp import MLPPotential

__all__ = ["GaussianMixturePotential", "MLPPotential"]
