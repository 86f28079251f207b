"""Networks only: potentials ``[n, D] -> [n]``."""

from neurot.nn.mlp import MLPPotential

__all__ = ["MLPPotential"]
