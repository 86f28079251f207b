"""Time-conditioned MLPs ``(x [n, D], t) -> [n, out]``: a velocity field and a scalar time score."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot.nn.mlp import ACTIVATIONS


class _TimeMLP(nn.Module):
    """``g([(x - loc) / scale, t])`` with ``g`` an MLP ``D + 1 -> hidden... -> out_dim``.

    ``loc`` ``[D]`` and ``scale`` (scalar) are buffers set from the data, so the network sees unit-order inputs
    whatever the data's units. ``t`` is a scalar (float or 0-d tensor) or a tensor ``[n]``.
    """

    def __init__(self, dim: int, out_dim: int, hidden: Sequence[int], activation: str) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        widths = [dim + 1, *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(width_in, width_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], out_dim))
        self.net = nn.Sequential(*layers)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc`` ``[D]`` and divide them by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def _features(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        return torch.cat([(x - self.loc) / self.scale, t[:, None]], dim=1)


class VelocityField(_TimeMLP):
    """Velocity ``v(x, t) = scale * g([(x - loc) / scale, t])``: ``[n, D] -> [n, D]``, in data units per unit time.

    SiLU (the default) makes ``v`` smooth, which the fixed-step ODE integrators and the inverse flow rely on.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu") -> None:
        super().__init__(dim, dim, hidden, activation)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """``x [n, D]``, ``t`` scalar or ``[n]`` -> ``[n, D]``."""
        return self.scale * self.net(self._features(x, t))


class TimeScore(_TimeMLP):
    """Scalar time score ``r(x, t) = <z, h([z, t])> + c([z, t])``, ``z = (x - loc) / scale``: ``[n, D] -> [n]``.

    ``(h, c)`` is one MLP ``D + 1 -> D + 1``. The inner product lets ``r`` grow quadratically away from the data,
    as log-density rates do (for Gaussians ``r`` is exactly a quadratic, ``h`` linear), where a plain MLP would
    extrapolate linearly. Trained so that ``r(x, t) ≈ d/dt log p_t(x)`` along a flow (nats per unit time).
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu") -> None:
        super().__init__(dim, dim + 1, hidden, activation)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """``x [n, D]``, ``t`` scalar or ``[n]`` -> ``[n]``."""
        features = self._features(x, t)
        out = self.net(features)
        return (features[:, :-1] * out[:, :-1]).sum(-1) + out[:, -1]
