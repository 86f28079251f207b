"""One-step stochastic generators ``T(x, z)`` with a tractable log-determinant ``log |det dT / dz|``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from neurot.nn.mlp import mlp


class GaussianGenerator(nn.Module):
    """``T(x, z) = mu(x) + L(x) z``: a conditional Gaussian ``N(mu(x), L(x) L(x)^T)`` in one network evaluation.

    ``mu(x) = x + scale * m((x - loc) / scale)`` and ``L(x)`` lower triangular (``"full"``) or diagonal
    (``"diag"``) with positive diagonal ``sqrt(eps0) exp(.)``, both heads of one MLP. The output layer starts at zero,
    so the untrained generator is ``N(x, eps0 I)``: the plan's conditional when the potential is constant.
    ``forward(x [n, D], z [n, D]) -> (y [n, D], log_det [n])`` with ``log_det = log |det L(x)|``, so the entropy of
    ``T(x, .)`` is ``D/2 log(2 pi e) + log_det``.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128), activation: str = "silu",
                 covariance: str = "full", eps0: float = 1.0) -> None:
        super().__init__()
        if covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {covariance!r}")
        self.dim, self.covariance = dim, covariance
        n_off = dim * (dim - 1) // 2 if covariance == "full" else 0
        self.net = mlp(dim, hidden, 2 * dim + n_off, activation)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("log_root_eps", torch.tensor(0.5 * math.log(eps0)))
        rows, cols = torch.tril_indices(dim, dim, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc [D]`` and divide them by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [n, D], z [n, D] -> (y [n, D], log |det dy/dz| [n])``."""
        d = self.dim
        out = self.net((x - self.loc) / self.scale)
        mean = x + self.scale * out[:, :d]
        log_diag = self.log_root_eps + out[:, d:2 * d]
        y = mean + log_diag.exp() * z
        if self.covariance == "full" and d > 1:
            off = out[:, 2 * d:] * self.log_root_eps.exp()
            # strictly lower part: y_i += sum_{j < i} L_ij z_j
            y = y.index_add(1, self.rows, off * z[:, self.cols])
        return y, log_diag.sum(1)
