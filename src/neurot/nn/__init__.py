"""Networks only: potentials ``[n, D] -> [n]``, generators, classifiers and time-conditioned fields ``(x, t)``."""

from neurot.nn.classifier import LogitMLP, logistic_loss
from neurot.nn.generator import GaussianGenerator
from neurot.nn.gmm import GaussianMixturePotential
from neurot.nn.mlp import MLPPotential, NormalizedMLP
from neurot.nn.time_mlp import TimeMLPPotential, TimeScore, VelocityField

__all__ = [
    "GaussianGenerator",
    "GaussianMixturePotential",
    "LogitMLP",
    "MLPPotential",
    "NormalizedMLP",
    "TimeMLPPotential",
    "TimeScore",
    "VelocityField",
    "logistic_loss",
]
