"""Multi-layer perceptron potential ``f: [n, D] -> [n]`` with built-in data normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "softplus": nn.Softplus}


class MLPPotential(nn.Module):
    """``f(y) = scale^2 * g((y - loc) / scale)`` with ``g`` an MLP ``D -> hidden... -> 1``.

    ``loc`` ``[D]`` and ``scale`` (scalar) are buffers set from the target data, so the network sees unit-order
    inputs and ``f`` has the units of the quadratic cost whatever the data's scale. Smooth activations (SiLU, the
    default) give Langevin samplers a continuous gradient.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        widths = [dim, *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(width_in, width_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc`` ``[D]`` and divide by ``scale`` (e.g. the target's mean and std)."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``[n, D] -> [n]``."""
        return self.scale.square() * self.net((y - self.loc) / self.scale).squeeze(-1)
