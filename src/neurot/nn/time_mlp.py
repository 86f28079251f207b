"""Time-dependent MLP potential ``V: [n], [n, D] -> [n]`` (for dynamic / Schrodinger-bridge solvers)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot.nn.mlp import ACTIVATIONS


def mlp(width_in: int, hidden: Sequence[int], width_out: int, activation: str) -> nn.Sequential:
    """``Linear -> act`` per hidden width, then a last ``Linear`` to ``width_out``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    widths = [width_in, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(widths[-1], width_out))
    return nn.Sequential(*layers)


class TimeMLPPotential(nn.Module):
    """``V(t, x) = scale^2 * g(t, (x - loc) / scale)`` with ``g`` an MLP ``1 + D -> hidden... -> 1``.

    ``t [n]`` in ``[0, 1]``, ``x [n, D]``; returns ``[n]``. ``loc [D]`` and ``scale`` are buffers set from the data
    (see :meth:`set_normalization`), so ``V`` has the units of the quadratic cost. Smooth activations (SiLU) keep
    the second derivatives needed by the HJB residual meaningful.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu") -> None:
        super().__init__()
        self.net = mlp(dim + 1, hidden, 1, activation)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc [D]`` and divide them by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``[n], [n, D] -> [n]``."""
        inputs = torch.cat([t[:, None], (x - self.loc) / self.scale], dim=1)
        return self.scale.square() * self.net(inputs).squeeze(-1)
