"""Time-conditioned MLPs on ``(x [n, D], t)``: a velocity field, a scalar time score and a potential ``V(t, x)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from neurot.nn.mlp import NormalizedMLP


class _TimeMLP(NormalizedMLP):
    """An MLP ``D + 1 -> hidden... -> out_dim`` on ``[(x - loc) / scale, t]``.

    ``t`` is a scalar (float or 0-d tensor) or a tensor ``[n]``.
    """

    def __init__(self, dim: int, out_dim: int, hidden: Sequence[int], activation: str) -> None:
        super().__init__(dim, dim + 1, hidden, out_dim, activation)

    def _features(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        return torch.cat([self.normalize(x), t[:, None]], dim=1)


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


class TimeMLPPotential(_TimeMLP):
    """``V(t, x) = scale^2 * g([(x - loc) / scale, t])``: ``t [n]`` in ``[0, 1]``, ``x [n, D]`` -> ``[n]``.

    Normalised by the data, ``V`` has the units of the quadratic cost. Smooth activations (SiLU) keep the second
    derivatives needed by an HJB residual meaningful.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), activation: str = "silu") -> None:
        super().__init__(dim, 1, hidden, activation)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``[n], [n, D] -> [n]``."""
        return self.scale.square() * self.net(self._features(x, t)).squeeze(-1)
