"""Networks only: potentials ``[n, D] -> [n]`` and ``[n, C, H, W] -> [n]``, generators, classifiers, time fields."""

from neurot.nn.classifier import LogitMLP, logistic_loss
from neurot.nn.conv import ConvClassifier, ConvPotential
from neurot.nn.generator import FlowGenerator, GaussianGenerator, conditional_generator
from neurot.nn.mlp import MLPPotential, NormalizedMLP
from neurot.nn.time_mlp import TimeMLPPotential, TimeScore, VelocityField

__all__ = [
    "ConvClassifier",
    "ConvPotential",
    "FlowGenerator",
    "GaussianGenerator",
    "LogitMLP",
    "MLPPotential",
    "NormalizedMLP",
    "TimeMLPPotential",
    "TimeScore",
    "VelocityField",
    "conditional_generator",
    "logistic_loss",
]
