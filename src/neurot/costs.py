"""Transport costs ``c(x, y) -> [n]``.

A cost is a callable on paired batches ``x [n, ...]``, ``y [n, ...]`` returning ``[n]``, differentiable in ``y``.
:class:`Quadratic` also exposes the Gaussian structure ``exp(-c(x, y) / eps) ∝ N(y; x, eps I)`` that samplers exploit.
"""

from __future__ import annotations

import torch


class Quadratic:
    """``c(x, y) = 1/2 |x - y|^2`` (the library's convention, MATH.md)."""

    name = "quadratic"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[n, D], [n, D] -> [n]``."""
        return 0.5 * (x - y).square().flatten(1).sum(1)

    @staticmethod
    def gaussian_reference(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, float]:
        """Mean ``[n, D]`` and variance of the Gaussian ``N(y; x, eps I) ∝ exp(-c(x, y) / eps)``."""
        return x, eps


quadratic = Quadratic()

COSTS = {"quadratic": quadratic}
