"""Networks only: potentials ``[n, D] -> [n]`` and time-conditioned fields ``(x, t)``."""

from neurot.nn.classifier import LogitMLP, logistic_loss
from neurot.nn.gmm import GaussianMixturePotential
from neurot.nn.mlp import MLPPotential
from neurot.nn.time_mlp import TimeScore, VelocityField

__all__ = ["GaussianMixturePotential", "LogitMLP", "MLPPotential", "TimeScore", "VelocityField", "logistic_loss"]
