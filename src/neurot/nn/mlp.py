"""Multi-layer perceptrons over normalised inputs, and the MLP potential ``f: [n, D] -> [n]``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot._validation import check_activation

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "softplus": nn.Softplus}


def mlp(width_in: int, hidden: Sequence[int], width_out: int, activation: str) -> nn.Sequential:
    """``Linear -> activation`` per hidden width, then a last ``Linear`` to ``width_out``."""
    check_activation("activation", activation)
    widths = [width_in, *hidden]
    layers: list[nn.Module] = []
    for width_a, width_b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(width_a, width_b), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(widths[-1], width_out))
    return nn.Sequential(*layers)


class NormalizedMLP(nn.Module):
    """An MLP ``net`` that sees ``(x - loc) / scale``: ``loc [D]`` and ``scale`` (scalar) are buffers set from data.

    Networks built on it see unit-order inputs whatever the data's units; subclasses define ``forward``.
    """

    def __init__(self, dim: int, width_in: int, hidden: Sequence[int], width_out: int, activation: str) -> None:
        super().__init__()
        self.net = mlp(width_in, hidden, width_out, activation)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc`` ``[D]`` and divide by ``scale`` (e.g. the data's mean and std)."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - loc) / scale``: ``[n, D] -> [n, D]``."""
        return (x - self.loc) / self.scale


class MLPPotential(NormalizedMLP):
    """``f(y) = scale^2 * (g(u) + u^T H u / 2 + h^T u)``, ``u = (y - loc) / scale``, ``g`` an MLP ``D -> ... -> 1``.

    Points with several axes (``[n, C, H, W]``) are flattened to ``D = C H W`` entries.

    Normalised by the target data, ``f`` has the units of the quadratic cost whatever the data's scale. Smooth
    activations (SiLU, the default) give Langevin samplers a continuous gradient. ``gaussian_part``: add the fixed
    quadratic ``u^T H u / 2 + h^T u`` (buffers ``hessian [D, D]`` and ``gradient [D]``, 0 until
    :meth:`set_gaussian_part`), for EgNOT the exact potential between the Gaussians with the data's moments, which
    a narrow network approximates poorly when ``D`` is large; the network learns the rest.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu",
                 gaussian_part: bool = False) -> None:
        super().__init__(dim, dim, hidden, 1, activation)
        self.gaussian_part = gaussian_part
        if gaussian_part:
            self.register_buffer("hessian", torch.zeros(dim, dim))
            self.register_buffer("gradient", torch.zeros(dim))

    def set_gaussian_part(self, hessian: torch.Tensor, gradient: torch.Tensor) -> None:
        """Set ``H [D, D]`` (symmetric) and ``h [D]``, in the normalised coordinates ``u``."""
        if not self.gaussian_part:
            raise ValueError("this MLPPotential was built without gaussian_part")
        self.hessian.copy_(hessian)
        self.gradient.copy_(gradient)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``[n, D] -> [n]`` (or ``[n, ...] -> [n]``, flattened)."""
        u = self.normalize(y.flatten(1))
        value = self.net(u).squeeze(-1)
        if self.gaussian_part:
            value = value + (u * (0.5 * u @ self.hessian + self.gradient)).sum(1)
        return self.scale.square() * value
