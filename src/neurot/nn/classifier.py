"""Logistic classifier ``r: [n, D] -> [n]`` (logits) with built-in data normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot.nn.mlp import NormalizedMLP


class LogitMLP(NormalizedMLP):
    """Logit ``r(x) = g((x - loc) / scale)`` of an MLP ``D -> hidden... -> 1``.

    Trained with the logistic loss ``E_a[softplus(-r)] + E_b[softplus(r)]`` between samples of densities ``a``
    and ``b``, its optimum is the log density ratio ``r = log a - log b``.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64), activation: str = "silu") -> None:
        super().__init__(dim, dim, hidden, 1, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, D] -> [n]``."""
        return self.net(self.normalize(x)).squeeze(-1)


def logistic_loss(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """``mean softplus(-r(a)) + mean softplus(r(b))``: minimised by ``r = log p_a - log p_b``."""
    return nn.functional.softplus(-logits_a).mean() + nn.functional.softplus(logits_b).mean()
