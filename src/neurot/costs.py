"""Transport costs ``c(x, y) -> [n]``.

A cost is a callable on paired batches ``x [n, ...]``, ``y [n, ...]`` returning ``[n]``, differentiable in ``y``;
samplers take its gradient in ``y`` by autograd. ``x`` and ``y`` may have different shapes (an image and a latent
code). :class:`Quadratic` also exposes the Gaussian structure ``exp(-c(x, y) / eps) ∝ N(y; x, eps I)`` that
samplers exploit; :func:`latent` builds ``c(x, z) = 1/2 |x - G(z)|^2`` through a generator ``G``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: A transport cost: ``c(x [n, ...], y [n, ...]) -> [n]``.
Cost = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Quadratic:
    """``c(x, y) = 1/2 |x - y|^2`` (the library's convention, docs/math.md), summed over all axes but the first."""

    name = "quadratic"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[n, ...], [n, ...] -> [n]`` (equal shapes)."""
        return 0.5 * (x - y).square().flatten(1).sum(1)

    @staticmethod
    def gaussian_reference(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, float]:
        """Mean ``[n, ...]`` and variance of the Gaussian ``N(y; x, eps I) ∝ exp(-c(x, y) / eps)``."""
        return x, eps


quadratic = Quadratic()


class LatentCost(nn.Module):
    """``c(x, z) = 1/2 |x - G(z)|^2``: the quadratic cost between ``x`` and the generator's output ``G(z)``.

    ``x [n, ...]`` has the shape of ``G``'s outputs (e.g. images ``[n, C, H, W]``), ``z [n, d]`` that of its inputs.
    ``G`` is frozen (``requires_grad_(False)`` and ``eval()``, in place): gradients flow to ``z`` only. As a module,
    the cost follows the solver to its device.
    """

    name = "latent"

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        if not isinstance(generator, nn.Module):
            raise TypeError(f"latent(G) needs a torch.nn.Module G, got {type(generator).__name__}")
        self.generator = generator.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x [n, ...], z [n, d] -> [n]``."""
        return quadratic(x, self.generator(z))


def latent(generator: nn.Module) -> LatentCost:
    """The cost ``c(x, z) = 1/2 |x - G(z)|^2`` for a generator ``G`` (frozen here: see :class:`LatentCost`).

    EgNOT with this cost learns a plan between data ``x`` and latent codes ``z`` (e.g. ``Q = N(0, I)``); its
    samples ``z ~ pi(. | x)`` are decoded by ``G(z)``. This is the EgNOT paper's AFHQ experiment through StyleGAN.
    """
    return LatentCost(generator)


COSTS = {"quadratic": quadratic}


def resolve_cost(cost: Any) -> Cost:
    """A cost from a name in :data:`COSTS` or a callable ``c(x, y) -> [n]`` (returned as is)."""
    if isinstance(cost, str):
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {sorted(COSTS)} or a callable c(x, y) -> [n], got {cost!r}")
        return COSTS[cost]
    if not callable(cost):
        raise TypeError(f"cost must be a name in {sorted(COSTS)} or a callable c(x, y) -> [n], got "
                        f"{type(cost).__name__}")
    return cost


def is_quadratic(cost: Cost) -> bool:
    """True for :class:`Quadratic`, whose Gaussian structure samplers and chain starts use."""
    return isinstance(cost, Quadratic)
