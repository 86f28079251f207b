"""Logistic classifier ``r: [n, D] -> [n]`` (logits) with built-in data normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot.nn.mlp import ACTIVATIONS


class LogitMLP(nn.Module):
    """Logit ``r(x) = g((x - loc) / scale)`` of an MLP ``D -> hidden... -> 1``.

    Trained with the logistic loss ``E_a[softplus(-r)] + E_b[softplus(r)]`` between samples of densities ``a``
    and ``b``, its optimum is the log density ratio ``r = log a - log b``.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64), activation: str = "silu") -> None:
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
        """Centre inputs at ``loc`` ``[D]`` and divide them by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, D] -> [n]``."""
        return self.net((x - self.loc) / self.scale).squeeze(-1)


def logistic_loss(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """``mean softplus(-r(a)) + mean softplus(r(b))``: minimised by ``r = log p_a - log p_b``."""
    return nn.functional.softplus(-logits_a).mean() + nn.functional.softplus(logits_b).mean()
