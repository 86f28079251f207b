"""ODE integration for flows: a thin, validated layer over ``torchdiffeq.odeint``.

A flow ``dx/dt = v(x, t)`` is integrated from ``times[0]`` to ``times[-1]`` (increasing or decreasing: the
inverse flow integrates backwards in time). Fixed-step methods (``rk4``, the reference's choice, ``midpoint``,
``euler``) take ``steps`` equal steps per unit time; adaptive ones (``dopri5``) use ``rtol``/``atol``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint

#: Method name -> whether it is fixed-step.
ODE_METHODS: dict[str, bool] = {"rk4": True, "midpoint": True, "euler": True, "dopri5": False}

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def integrate(
    velocity: Velocity,
    x: torch.Tensor,
    times: torch.Tensor,
    *,
    method: str = "rk4",
    steps: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> torch.Tensor:
    """Solve ``dx/dt = velocity(x, t)`` from ``x [n, D]`` at ``times[0]``; return states at ``times``: ``[T, n, D]``.

    Fixed-step methods: with ``steps`` set, steps of size ``1 / steps`` (outputs between grid points are
    interpolated by torchdiffeq); with ``steps=None``, one step between consecutive ``times`` (the grid itself).
    Gradients flow through the solver steps (no adjoint), as the training losses need.
    """
    if method not in ODE_METHODS:
        raise ValueError(f"method must be one of {sorted(ODE_METHODS)}, got {method!r}")

    def func(t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return velocity(state, t)

    times = times.to(device=x.device, dtype=x.dtype)
    if ODE_METHODS[method]:
        options = {} if steps is None else {"step_size": 1.0 / steps}
        return odeint(func, x, times, method=method, options=options)
    return odeint(func, x, times, method=method, rtol=rtol, atol=atol)


def time_grid(start: float, end: float, steps: int) -> torch.Tensor:
    """``steps + 1`` equally spaced times from ``start`` to ``end``: ``[steps + 1]``."""
    return torch.linspace(start, end, steps + 1)
